package dev.tessera.nn;

import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Tensor;

/**
 * A pre-norm residual block: r ← r + mixer(norm1(r)), then, when it has an MLP, r ← r + mlp(norm2(r)).
 * The residual stream stays F32 (Tessera's CPU dtype); names follow the reference ({@code norm1}, {@code mixer},
 * {@code norm2}, {@code mlp}).
 */
public final class Block extends Module {
    private final RMSNorm norm1, norm2;
    private final Module mixerModule;
    private final Mixer mixer;
    private final SwiGluMlp mlp;

    /** {@code mixer} must be a {@link Module}; {@code mlp} may be null. */
    public <M extends Module & Mixer> Block(int dim, M mixer, SwiGluMlp mlp) {
        this.norm1 = module("norm1", new RMSNorm(dim, 1e-5));
        this.mixerModule = module("mixer", mixer);
        this.mixer = mixer;
        this.norm2 = mlp == null ? null : module("norm2", new RMSNorm(dim, 1e-5));
        this.mlp = mlp == null ? null : module("mlp", mlp);
    }

    public Mixer mixer() { return mixer; }

    public Module mixerModule() { return mixerModule; }

    /** The MLP, or null. */
    public SwiGluMlp mlp() { return mlp; }

    /** Residual height for the init scaling: 1 for a mixer-only block, 2 with an MLP. */
    public int height() { return mlp == null ? 1 : 2; }

    public Tensor forward(Tensor r) { return forward(r, null); }

    /**
     * The block over packed documents {@code cuSeqlens} = {0, …, L} (see {@link Mixer#forward(Tensor, int[])});
     * norms and MLP act per position, so only the mixer needs the boundaries. Null means no packing.
     */
    public Tensor forward(Tensor r, int[] cuSeqlens) {
        r = r.add(mixer.forward(norm1.forward(r), cuSeqlens));
        return mlp == null ? r : r.add(mlp.forward(norm2.forward(r)));
    }

    public Tensor step(Tensor r, Mixer.DecodeState state) { return step(r, state, RowSubset.all(r.size(0))); }

    /** The forward of one sequence r [1, L, D] that leaves row {@code row} of the state after it (see {@link Mixer#prefill}). */
    public Tensor prefill(Tensor r, Mixer.DecodeState state, int row) {
        r = r.add(mixer.prefill(norm1.forward(r), state, row));
        return mlp == null ? r : r.add(mlp.forward(norm2.forward(r)));
    }

    /** One position of the rows {@code rows} of the state's batch, r [n, 1, D] (see {@link Mixer#step(Tensor, Mixer.DecodeState, RowSubset)}). */
    public Tensor step(Tensor r, Mixer.DecodeState state, RowSubset rows) {
        r = r.add(mixer.step(norm1.forward(r), state, rows));
        return mlp == null ? r : r.add(mlp.forward(norm2.forward(r)));
    }
}
