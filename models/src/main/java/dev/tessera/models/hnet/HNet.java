package dev.tessera.models.hnet;

import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.kernels.routing.Chunks;
import dev.tessera.kernels.routing.Routing;
import dev.tessera.kernels.routing.RoutingState;
import dev.tessera.kernels.routing.StepRouting;
import dev.tessera.nn.ForwardFlops;
import dev.tessera.nn.Isotropic;
import dev.tessera.nn.Linear;
import dev.tessera.nn.Mixer;
import dev.tessera.nn.Module;
import dev.tessera.nn.Parameter;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * One stage of an H-Net (arXiv 2507.07955 §2, hnet.md §1.4): pad the width to this stage's, encode, route, chunk,
 * run the main network (the next stage or the innermost isotropic stack) on the chunks, dechunk with smoothing and
 * the straight-through confidence, add the residual projection, decode, and truncate back to the input width.
 * The innermost stage only pads, runs its stack and truncates. Parameter names follow the reference implementation.
 */
public final class HNet extends Module {
    /**
     * Routing of one stage: boundary probabilities p and decisions b, both [B, L_s]; mask marks real positions (null:
     * all); {@code chunks} is how many chunks the decisions make in the whole batch (counted on the host already).
     */
    public record StageRouting(Tensor p, Tensor b, Tensor mask, long chunks) {}

    private final int stage, stages, inWidth, width;
    private final boolean innermost;
    /** Chunks start at whitespace bytes instead of where the routing module says ({@link HNetConfig.Boundaries}). */
    private final boolean whitespaceRouting;
    private final Parameter padDimension;
    private final Isotropic encoder, decoder, mainStack;
    private final RoutingModule routing;
    private final Linear residualProj;
    private final HNet mainStage;
    /** The config's target ratio of this stage (positions per chunk); NaN for the innermost. */
    private final double targetRatio;

    /**
     * Replaces the straight-through factor STE(c) (1 forward, identity backward) by an explicit factor of c, for
     * gradient checks only. A finite difference cannot see the STE, whose forward value is the constant 1, so the
     * autograd gradient through c differs from the numeric derivative of the model's own loss by design. A check
     * instead differentiates numerically the surrogate with factor 1 + (c − c₀), c₀ frozen at the point checked:
     * it has the model's exact value there and, as its true derivative, the STE's gradient.
     */
    interface ConfidenceFactor {
        /** The factor [B, L_s] multiplying stage {@code stage}'s dechunked output, from its confidence c [B, L_s]. */
        Tensor of(int stage, Tensor c);
    }

    /** Null in normal use (the STE); set only by gradient checks through {@link HNetLM#confidenceFactor}. */
    ConfidenceFactor confidenceFactor;

    HNet(HNetConfig cfg, int stage, int inWidth, Generator gen) {
        this.stage = stage;
        this.stages = cfg.stages();
        this.inWidth = inWidth;
        this.width = cfg.dModel()[stage];
        this.innermost = stage == cfg.stages();
        this.targetRatio = innermost ? Double.NaN : cfg.targetRatio()[stage];
        this.whitespaceRouting = stage == 0 && cfg.routing() == HNetConfig.Boundaries.WHITESPACE;
        this.padDimension = width > inWidth
                ? parameter("pad_dimension", new Parameter(Tensor.zeros(DType.F32, width - inWidth), true)) : null;
        Isotropic.Config iso = new Isotropic.Config(width, cfg.dIntermediate()[stage], cfg.numHeads()[stage], cfg.rotaryDim()[stage],
                cfg.window()[stage], cfg.dState(), cfg.dConv(), cfg.expand(), cfg.headDim(), 1);
        if (innermost) {
            this.mainStack = module("main_network", new Isotropic(cfg.innerLayout(), iso, gen));
            this.encoder = this.decoder = null;
            this.routing = null;
            this.residualProj = null;
            this.mainStage = null;
        } else {
            String[] ed = cfg.stageLayouts().get(stage);
            this.encoder = module("encoder", new Isotropic(ed[0], iso, gen));
            this.routing = module("routing_module", new RoutingModule(width, gen));
            this.mainStage = module("main_network", new HNet(cfg, stage + 1, width, gen));
            this.mainStack = null;
            this.decoder = module("decoder", new Isotropic(ed[1], iso, gen));
            this.residualProj = module("residual_proj", new Linear(width, width, true, gen));
            // zero weight, default bias (hnet.md §1.8 item 4)
            try (Tensor z = Tensor.zeros(width, width)) {
                residualProj.weight().set(z);
            }
        }
    }

    /**
     * x [B, L, inWidth] → [B, L, inWidth]; appends each stage's routing (outermost first) to {@code routings}.
     * {@code outer} is null at stage 0; a nested stage runs on the outer stage's chunks (x = outer.x()), whose rows are
     * right-padded after their counts. {@code bytes} [B, L] are the model's input bytes at stage 0 (a whitespace-routed
     * stage reads them), else null.
     */
    public Tensor forward(Tensor x, Tensor bytes, Chunks outer, List<StageRouting> routings) {
        Tensor h = widened(x);
        Tensor out;
        if (innermost) {
            // Packed on the CPU only: on a GPU the tensor-core attention takes padded rows, not packed documents.
            out = outer != null && outer.counts().length > 1 && h.device().isCpu() ? packedMain(h, outer.counts()) : mainStack.forward(h);
        } else {
            Tensor xhat = encoder.forward(h);
            Tensor residual = residualProj.forward(xhat);
            Routing r = whitespaceRouting ? WhitespaceRouting.of(bytes, xhat.dtype(), xhat.device())
                    : outer == null ? ChunkRouter.route(routing.qProj.forward(xhat), routing.kProj.forward(xhat))
                    : ChunkRouter.routeChunks(routing.qProj.forward(xhat), routing.kProj.forward(xhat), outer);
            Chunks chunks = ChunkRouter.chunk(xhat, r.b());
            routings.add(new StageRouting(r.p(), r.b(), outer == null ? null : outer.mask(), chunks.total()));
            Tensor inner = mainStage.forward(chunks.x(), null, chunks, routings);
            Tensor dechunked = confidenceFactor == null ? ChunkRouter.dechunk(inner, chunks, r.p(), r.c())
                    : ChunkRouter.dechunk(inner, chunks, r.p(), r.c().detach()).mul(confidenceFactor.of(stage, r.c()).unsqueeze(2));
            Tensor z = dechunked.add(residual);
            out = decoder.forward(z);
        }
        return narrowed(out);
    }

    /**
     * Decoding state of this stage for {@code batch} rows. The encoder, routing and decoder step the rows together;
     * the main network steps, together, only the rows whose byte closed a chunk, so rows stand at different positions
     * of the inner stages.
     */
    public final class StageState implements AutoCloseable {
        final List<Mixer.DecodeState> encoder, decoder, main;
        final RoutingState routing;
        final StageState inner;

        StageState(int batch, int maxLength) {
            if (innermost) {
                main = mainStack.newState(batch, maxLength);
                encoder = decoder = null;
                routing = null;
                inner = null;
            } else {
                encoder = HNet.this.encoder.newState(batch, maxLength);
                decoder = HNet.this.decoder.newState(batch, maxLength);
                routing = RoutingState.create(batch, width, HNet.this.routing.dtype(), HNet.this.routing.device());
                inner = mainStage.newState(batch, maxLength);
                main = null;
            }
        }

        @Override
        public void close() {
            for (List<Mixer.DecodeState> l : java.util.Arrays.asList(encoder, decoder, main)) {
                if (l != null) l.forEach(Mixer.DecodeState::close);
            }
            if (routing != null) routing.close();
            if (inner != null) inner.close();
        }
    }

    /** A fresh decoding state for {@code batch} sequences of up to {@code maxLength} positions at this stage. */
    public StageState newState(int batch, int maxLength) { return new StageState(batch, maxLength); }

    /**
     * One position x [B, 1, inWidth] → [B, 1, inWidth]; equals {@link #forward} at that position. {@code bytes} [B]
     * are the new input bytes at stage 0, else null.
     */
    public Tensor step(Tensor x, Tensor bytes, StageState st) { return step(x, bytes, st, RowSubset.all(x.size(0))); }

    /**
     * One position of the rows {@code rows} of the state's batch, x [n, 1, inWidth] → [n, 1, inWidth]; the other rows
     * do not advance. The inner stage steps the rows among them whose position starts a chunk, all in one call.
     */
    Tensor step(Tensor x, Tensor bytes, StageState st, RowSubset rows) {
        int b = x.size(0);
        Tensor h = widened(x);
        Tensor out;
        if (innermost) {
            out = mainStack.step(h, st.main, rows);
        } else {
            Tensor xhat = encoder.step(h, st.encoder, rows);
            Tensor residual = residualProj.forward(xhat);
            StepRouting r = whitespaceRouting ? st.routing.routeFixed(WhitespaceRouting.starts(bytes), rows)
                    : st.routing.route(routing.qProj.forward(xhat).reshape(b, width), routing.kProj.forward(xhat).reshape(b, width), rows);
            Tensor zhat = null;
            if (r.anyBoundary()) {
                int[] closing = r.boundaryRows(); // positions among this step's rows
                Tensor xin = closing.length == b ? xhat : RowSubset.of(b, closing).gather(xhat);
                zhat = mainStage.step(xin, null, st.inner, rows.pick(closing)).reshape(closing.length, width);
            }
            Tensor z = st.routing.dechunk(zhat).reshape(b, 1, width).add(residual);
            out = decoder.step(z, st.decoder, rows);
        }
        return narrowed(out);
    }

    /**
     * Reads one sequence at once, x [1, L, inWidth] → [1, L, inWidth] (= {@link #forward}), leaving row {@code row} of
     * {@code st} as L steps from a fresh row would (it starts over): every stage runs its parallel form and each layer
     * and router keeps the row's state at the end. {@code bytes} [1, L] as in {@link #forward}.
     */
    Tensor prefill(Tensor x, Tensor bytes, StageState st, int row) {
        Tensor h = widened(x);
        Tensor out;
        if (innermost) {
            out = mainStack.prefill(h, st.main, row);
        } else {
            Tensor xhat = encoder.prefill(h, st.encoder, row);
            Tensor residual = residualProj.forward(xhat);
            Tensor q = whitespaceRouting ? null : routing.qProj.forward(xhat);
            Routing r = whitespaceRouting ? WhitespaceRouting.of(bytes, xhat.dtype(), xhat.device()) : ChunkRouter.route(q, routing.kProj.forward(xhat));
            Chunks chunks = ChunkRouter.chunk(xhat, r.b()); // one row: no padding, exactly its chunks
            Tensor dechunked = ChunkRouter.dechunk(mainStage.prefill(chunks.x(), null, st.inner, row), chunks, r.p(), r.c());
            st.routing.prefillRow(row, q, dechunked);
            out = decoder.prefill(dechunked.add(residual), st.decoder, row);
        }
        return narrowed(out);
    }

    /**
     * The main network over the outer stage's chunks h [B, M, width] packed end to end into one row of documents
     * ([1, Σ counts, width], each batch row's chunks one document that attention, convolution and scan never cross), so
     * that none of its work goes to the padding after the shorter rows (a third of the rows of hnet-tiny's main network
     * in training); the output is padded back to [B, M, width] with zeros, which nothing reads.
     */
    private Tensor packedMain(Tensor h, long[] counts) {
        int b = h.size(0), m = h.size(1), d = h.size(2);
        List<Tensor> docs = new ArrayList<>(b);
        int[] cu = new int[b + 1]; // over the rows that have chunks
        for (int r = 0; r < b; r++) {
            int n = Math.toIntExact(counts[r]);
            if (n == 0) continue;
            docs.add(h.narrow(0, r, 1).narrow(1, 0, n));
            cu[docs.size()] = cu[docs.size() - 1] + n;
        }
        if (docs.isEmpty()) return mainStack.forward(h);
        Tensor y = mainStack.forward(Tensor.cat(docs, 1), java.util.Arrays.copyOf(cu, docs.size() + 1));
        List<Tensor> rows = new ArrayList<>(b);
        int at = 0;
        for (int r = 0; r < b; r++) {
            int n = Math.toIntExact(counts[r]);
            Tensor row = n == 0 ? null : y.narrow(1, at, n);
            at += n;
            if (n == m) rows.add(row);
            else {
                Tensor pad = Tensor.zeros(y.dtype(), y.device(), 1, m - n, d);
                rows.add(row == null ? pad : Tensor.cat(List.of(row, pad), 1));
            }
        }
        return Tensor.cat(rows, 0);
    }

    /**
     * The forward's floating-point operations over {@code positions} of this stage, its chunks at the target ratios:
     * what the ratio loss aims at. {@link #forwardFlops(double, double[])} takes the ratios a model actually routes.
     */
    @Override public ForwardFlops forwardFlops(double positions) {
        double perChunk = 1;
        double[] bytesPerChunk = new double[stages]; // indexed by stage; those outside this one are not read
        for (HNet s = this; !s.innermost; s = s.mainStage) bytesPerChunk[s.stage] = perChunk *= s.targetRatio;
        return flops(positions, bytesPerChunk, 1);
    }

    /**
     * The forward's floating-point operations over a sequence of {@code bytes} entering stage 0, whose stage-s chunks
     * hold {@code bytesPerChunk[s]} bytes on average (as training and evaluation report them): each stage's encoder,
     * routing, residual projection and decoder over its own positions, the innermost network over the last chunks.
     */
    public ForwardFlops forwardFlops(double bytes, double[] bytesPerChunk) {
        if (stage != 0) throw new IllegalStateException("forwardFlops(bytes, bytesPerChunk) counts from stage 0, this is stage " + stage);
        if (bytesPerChunk.length != stages) {
            throw new IllegalArgumentException("H-Net forward FLOPs: one bytes-per-chunk figure per stage (" + stages + "), got "
                    + java.util.Arrays.toString(bytesPerChunk));
        }
        return flops(bytes, bytesPerChunk, 1);
    }

    /** {@code bytes} per sequence; this stage's positions are those over {@code bytesPerPosition} bytes each. */
    private ForwardFlops flops(double bytes, double[] bytesPerChunk, double bytesPerPosition) {
        double positions = bytes / bytesPerPosition;
        if (innermost) return mainStack.forwardFlops(positions);
        if (!(bytesPerChunk[stage] >= bytesPerPosition)) {
            throw new IllegalArgumentException("H-Net stage " + stage + ": bytes per chunk " + java.util.Arrays.toString(bytesPerChunk)
                    + " must give every stage at least as many bytes per chunk as the stage outside it");
        }
        ForwardFlops routed = whitespaceRouting ? ForwardFlops.NONE : routing.forwardFlops(positions); // a rule multiplies nothing
        return encoder.forwardFlops(positions).plus(decoder.forwardFlops(positions)).plus(routed).plus(residualProj.forwardFlops(positions))
                .plus(mainStage.flops(bytes, bytesPerChunk, bytesPerChunk[stage]));
    }

    /** x [B, L, inWidth] with the learned pad vector appended to every position, [B, L, width]. */
    private Tensor widened(Tensor x) {
        return padDimension == null ? x : Tensor.cat(List.of(x, padDimension.value().expand(x.size(0), x.size(1), width - inWidth)), 2);
    }

    /** The stage's output [B, L, width] truncated back to the input width. */
    private Tensor narrowed(Tensor out) { return width > inWidth ? out.narrow(2, 0, inWidth) : out; }

    /** Reference init: Linear weights N(0, 0.02), out_proj/fc2 scaled by the accumulated residual height. */
    void initWeights(Generator gen, int enclosingHeight) {
        if (innermost) {
            mainStack.initWeights(gen, enclosingHeight + mainStack.height());
            return;
        }
        encoder.initWeights(gen, enclosingHeight + encoder.height());
        decoder.initWeights(gen, enclosingHeight + decoder.height());
        mainStage.initWeights(gen, enclosingHeight + encoder.height() + decoder.height());
    }

    /** Stage index of every parameter name prefix: used for the per-stage learning-rate multipliers. */
    int stage() { return stage; }

    HNet mainStage() { return mainStage; }

    boolean isInnermost() { return innermost; }
}
