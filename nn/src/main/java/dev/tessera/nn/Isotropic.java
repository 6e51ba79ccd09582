package dev.tessera.nn;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stack of {@link Block}s described by a layout string such as {@code "m4"}, {@code "T22"} or {@code "T1m4"}
 * (H-Net's {@code arch_layout}): {@code m} = Mamba-2 only, {@code M} = Mamba-2 + SwiGLU, {@code t} = attention only,
 * {@code T} = attention + SwiGLU, each followed by a count, run in string order; the stack ends in its own RMSNorm.
 * Parameter names: {@code layers.{i}.*} and {@code rmsnorm.weight}.
 */
public final class Isotropic extends Module {
    private static final Pattern LAYER = Pattern.compile("([mMtT])(\\d+)");

    /** Settings of the mixers of one stack. */
    public record Config(int dim, int intermediate, int heads, int rotaryDim, int window,
                         int dState, int dConv, int expand, int headDim, int groups) {
        /** H-Net's Mamba-2 defaults with the given width and attention settings. */
        public static Config hnet(int dim, int intermediate, int heads, int rotaryDim, int window) {
            return new Config(dim, intermediate, heads, rotaryDim, window, 128, 4, 2, 64, 1);
        }
    }

    private final String layout;
    private final List<Block> layers = new ArrayList<>();
    private final RMSNorm rmsnorm;

    public Isotropic(String layout, Config cfg, Generator gen) {
        this.layout = layout;
        List<Character> kinds = parse(layout);
        Module layersModule = module("layers", new Module() {});
        for (int i = 0; i < kinds.size(); i++) {
            char c = kinds.get(i);
            boolean withMlp = Character.isUpperCase(c);
            if (withMlp && cfg.intermediate() <= 0) {
                throw new IllegalArgumentException("layout '" + layout + "': '" + c + "' needs an MLP but d_intermediate is " + cfg.intermediate());
            }
            SwiGluMlp mlp = withMlp ? new SwiGluMlp(cfg.dim(), cfg.intermediate(), gen) : null;
            Block b = Character.toLowerCase(c) == 'm'
                    ? new Block(cfg.dim(), new Mamba2(cfg.dim(), cfg.dState(), cfg.dConv(), cfg.expand(), cfg.headDim(), cfg.groups(), gen), mlp)
                    : new Block(cfg.dim(), new CausalSelfAttention(cfg.dim(), cfg.heads(), cfg.rotaryDim(), cfg.window(), gen), mlp);
            layers.add(layersModule.module(Integer.toString(i), b));
        }
        this.rmsnorm = module("rmsnorm", new RMSNorm(cfg.dim(), 1e-5));
    }

    /** The layer kinds of a layout string, in order; anything else than ([mMtT]\d+)+ is refused. */
    public static List<Character> parse(String layout) {
        Matcher m = LAYER.matcher(layout);
        List<Character> out = new ArrayList<>();
        int at = 0;
        while (m.find()) {
            if (m.start() != at) break;
            int n = Integer.parseInt(m.group(2));
            for (int i = 0; i < n; i++) out.add(m.group(1).charAt(0));
            at = m.end();
        }
        if (at != layout.length() || out.isEmpty()) {
            throw new IllegalArgumentException("bad layout '" + layout + "': expected letters m, M, t, T each followed by a count, e.g. \"T1m4\"");
        }
        return out;
    }

    public String layout() { return layout; }

    public List<Block> layers() { return List.copyOf(layers); }

    /** Residual height: 1 per mixer-only layer, 2 per layer with an MLP. */
    public int height() { return layers.stream().mapToInt(Block::height).sum(); }

    /** x [B, L, D] → [B, L, D], each row one sequence. */
    public Tensor forward(Tensor x) { return forward(x, null); }

    /**
     * The stack over packed documents {@code cuSeqlens} = {0, …, L} (B = 1 when it has Mamba layers): every layer
     * respects the boundaries, so each document's output equals running it alone. Null means no packing.
     */
    public Tensor forward(Tensor x, int[] cuSeqlens) {
        Tensor r = x;
        for (Block b : layers) r = b.forward(r, cuSeqlens);
        return rmsnorm.forward(r);
    }

    /** Per-layer decoding state. */
    public List<Mixer.DecodeState> newState(int batch, int maxLength) {
        List<Mixer.DecodeState> s = new ArrayList<>();
        for (Block b : layers) s.add(b.mixer().newState(batch, maxLength));
        return s;
    }

    /** One position x [B, 1, D]. */
    public Tensor step(Tensor x, List<Mixer.DecodeState> state) { return step(x, state, RowSubset.all(x.size(0))); }

    /** The forward of one sequence x [1, L, D] that starts row {@code row} of the state over and leaves it after x, as L steps would. */
    public Tensor prefill(Tensor x, List<Mixer.DecodeState> state, int row) {
        Tensor r = x;
        for (int i = 0; i < layers.size(); i++) r = layers.get(i).prefill(r, state.get(i), row);
        return rmsnorm.forward(r);
    }

    /** One position x [n, 1, D] of the rows {@code rows} of the state's batch; the other rows do not advance. */
    public Tensor step(Tensor x, List<Mixer.DecodeState> state, RowSubset rows) {
        Tensor r = x;
        for (int i = 0; i < layers.size(); i++) r = layers.get(i).step(r, state.get(i), rows);
        return rmsnorm.forward(r);
    }

    /**
     * The reference initialisation: every Linear weight N(0, 0.02), except {@code out_proj} and {@code fc2}
     * weights, N(0, 0.02/√nResidual) (residual-depth scaling); Mamba-2's own parameters keep their init.
     */
    public void initWeights(Generator gen, int nResidual) {
        double scaled = 0.02 / Math.sqrt(nResidual);
        for (Block b : layers) {
            for (var e : b.namedParameters().entrySet()) {
                String n = e.getKey();
                boolean linearWeight = n.endsWith("in_proj.weight") || n.endsWith("Wqkv.weight") || n.endsWith("fc1.weight")
                        || n.endsWith("out_proj.weight") || n.endsWith("fc2.weight");
                if (!linearWeight) continue;
                boolean residual = n.endsWith("out_proj.weight") || n.endsWith("fc2.weight");
                Init.normal(e.getValue(), gen, residual ? scaled : 0.02);
            }
        }
    }
}
