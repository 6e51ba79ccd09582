package dev.tessera.models.hnet;

import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.nn.Embedding;
import dev.tessera.nn.ForwardFlops;
import dev.tessera.nn.Init;
import dev.tessera.nn.Linear;
import dev.tessera.nn.Module;
import dev.tessera.nn.Optimizer;
import dev.tessera.nn.Parameter;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A byte-level H-Net language model (arXiv 2507.07955): {@code embeddings} (256 → D₀, N(0,1)), the stage-0
 * {@link HNet} {@code backbone}, and {@code lm_head} (D₀ → 256, no bias, N(0, 0.02)). The training loss is the
 * next-byte cross entropy plus α = 0.03 times the sum of the stages' ratio losses.
 */
public final class HNetLM extends Module {
    /** Weight of the ratio loss (hnet.md §1.7). */
    public static final double ALPHA = 0.03;

    private final HNetConfig config;
    private final Embedding embeddings;
    private final HNet backbone;
    private final Linear lmHead;

    public HNetLM(HNetConfig config, Generator gen) {
        this.config = config;
        this.embeddings = module("embeddings", new Embedding(256, config.dModel()[0], gen));
        this.backbone = module("backbone", new HNet(config, 0, config.dModel()[0], gen));
        this.lmHead = module("lm_head", new Linear(config.dModel()[0], 256, false, gen));
        Init.normal(lmHead.weight(), gen, 0.02);
        backbone.initWeights(gen, 0);
    }

    public HNetConfig config() { return config; }

    /** Logits [B, L, 256] and each stage's routing. */
    public record Output(Tensor logits, List<HNet.StageRouting> routings) {}

    /** bytes [B, L] (integers 0..255) → logits and routing. */
    public Output forward(Tensor bytes) {
        if (bytes.dim() != 2) throw new IllegalArgumentException("H-Net: input must be bytes [B, L], got " + java.util.Arrays.toString(bytes.shape()));
        List<HNet.StageRouting> routings = new ArrayList<>();
        Tensor h = backbone.forward(embeddings.forward(bytes), bytes, null, routings);
        return new Output(lmHead.forward(h), routings);
    }

    /**
     * The forward's floating-point operations over a sequence of {@code bytes} whose stage-s chunks hold
     * {@code bytesPerChunk[s]} bytes on average ({@link HNet#forwardFlops(double, double[])}), the LM head included.
     */
    public ForwardFlops forwardFlops(double bytes, double[] bytesPerChunk) {
        return backbone.forwardFlops(bytes, bytesPerChunk).plus(lmHead.forwardFlops(bytes));
    }

    /** Decoding state of a batch: one per {@link #newDecodeState}; close it when done. */
    public HNet.StageState newDecodeState(int batch, int maxLength) { return backbone.newState(batch, maxLength); }

    /**
     * One byte per row, bytes [B] (I64) → next-byte logits [B, 256], advancing {@code state}. Feeding a sequence byte by
     * byte gives the logits of {@link #forward} at every position; rows route independently (batched decoding).
     */
    public Tensor step(Tensor bytes, HNet.StageState state) {
        if (bytes.dim() != 1) throw new IllegalArgumentException("H-Net step: bytes must be [B], got " + java.util.Arrays.toString(bytes.shape()));
        try (dev.tessera.runtime.Grad.Region g = dev.tessera.runtime.Grad.noGrad()) {
            int b = bytes.size(0);
            Tensor h = backbone.step(embeddings.forward(bytes.reshape(b, 1)), bytes, state);
            return lmHead.forward(h).reshape(b, 256);
        }
    }

    /**
     * Reads a row's first bytes at once, bytes [L] (I64, L ≥ 1) → next-byte logits [L, 256] at each of them (=
     * {@link #forward}), starting row {@code row} of {@code state} over and leaving it ready to {@link #step} on after them.
     */
    public Tensor prefill(Tensor bytes, HNet.StageState state, int row) {
        if (bytes.dim() != 1 || bytes.size(0) < 1) throw new IllegalArgumentException("H-Net prefill: bytes must be [L] with L >= 1, got " + java.util.Arrays.toString(bytes.shape()));
        try (dev.tessera.runtime.Grad.Region g = dev.tessera.runtime.Grad.noGrad()) {
            int l = bytes.size(0);
            Tensor b = bytes.reshape(1, l);
            return lmHead.forward(backbone.prefill(embeddings.forward(b), b, state, row)).reshape(l, 256);
        }
    }

    /** Gradient checks only: every stage's dechunk uses {@code f} instead of the STE (null restores it); see {@link HNet.ConfidenceFactor}. */
    void confidenceFactor(HNet.ConfidenceFactor f) {
        for (HNet s = backbone; s != null; s = s.mainStage()) s.confidenceFactor = f;
    }

    /** The parts of a training loss; {@code total} is what backpropagates. */
    public record Loss(Tensor total, Tensor crossEntropy, Tensor ratio, double[] bytesPerChunk) {}

    /** Next-byte cross entropy of {@code inputs} against {@code targets} [B, L] plus α·Σ ratio losses. */
    public Loss loss(Tensor inputs, Tensor targets) {
        Output out = forward(inputs);
        Tensor ce = Functional.crossEntropy(out.logits(), targets);
        Tensor ratio = null;
        double[] bpc = new double[out.routings().size()];
        for (int s = 0; s < out.routings().size(); s++) {
            HNet.StageRouting r = out.routings().get(s);
            if (s > 0 || config.routing() == HNetConfig.Boundaries.LEARNED) { // a fixed rule has no ratio to learn
                Tensor l = r.mask() == null ? ChunkRouter.ratioLoss(r.b(), r.p(), config.targetRatio()[s])
                        : ChunkRouter.ratioLoss(r.b(), r.p(), config.targetRatio()[s], r.mask());
                ratio = ratio == null ? l : ratio.add(l);
            }
            bpc[s] = inputs.numel() / (double) Math.max(1, r.chunks());
        }
        Tensor total = ratio == null ? ce : ce.add(ratio.mul(ALPHA));
        return new Loss(total, ce, ratio, bpc);
    }

    /**
     * Parameter groups with the per-stage learning-rate multipliers λ_s (hnet.md §1.7): a parameter belongs to the
     * innermost stage whose {@code main_network} prefix it lies under; embeddings and lm_head are stage 0.
     */
    public List<Optimizer.Group> parameterGroups(double[] lrMultipliers) {
        int n = config.stages() + 1;
        if (lrMultipliers.length != n) throw new IllegalArgumentException("need " + n + " learning-rate multipliers, got " + lrMultipliers.length);
        List<Map<String, Parameter>> byStage = new ArrayList<>();
        for (int s = 0; s < n; s++) byStage.add(new LinkedHashMap<>());
        namedParameters().forEach((name, p) -> {
            int depth = 0, at = 0;
            while ((at = name.indexOf("main_network.", at)) >= 0) {
                depth++;
                at += "main_network.".length();
            }
            if (name.contains(".main_network.pad_dimension") || name.endsWith("main_network.pad_dimension")) depth = Math.max(depth, 1);
            byStage.get(Math.min(depth, n - 1)).put(name, p);
        });
        List<Optimizer.Group> groups = new ArrayList<>();
        for (int s = 0; s < n; s++) groups.add(new Optimizer.Group("stage" + s, byStage.get(s), lrMultipliers[s]));
        return groups;
    }

    /** The multipliers λ_s = sqrt(N_GPT·(Π_{i≥s} N^i / Π_{i≥0} N^i)·D_S/D_s) with N_GPT = 4.6 (H-Net App. C). */
    public static double[] lrMultipliers(HNetConfig config) {
        int n = config.stages() + 1;
        double[] ratios = new double[n];
        for (int s = 0; s < n; s++) ratios[s] = s < config.stages() ? config.targetRatio()[s] : 1;
        double all = 1;
        for (double r : ratios) all *= r;
        double[] out = new double[n];
        for (int s = 0; s < n; s++) {
            double from = 1;
            for (int i = s; i < n; i++) from *= ratios[i];
            out[s] = Math.sqrt(4.6 * (from / all) * config.dModel()[n - 1] / config.dModel()[s]);
        }
        return out;
    }
}
