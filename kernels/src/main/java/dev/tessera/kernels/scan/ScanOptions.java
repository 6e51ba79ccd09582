package dev.tessera.kernels.scan;

import dev.tessera.runtime.Tensor;

/**
 * The optional inputs and switches of {@link SelectiveScan}; build with {@link #builder()}.
 * Shapes below are for the Mamba-2 form (the Mamba-1 form drops P: D = H·P channels, see {@link SelectiveScan#mamba1}).
 *
 * @param dtBias           [H], added to dt before the optional softplus (Mamba's {@code dt_bias}); null for none
 * @param softplus         apply dt ← softplus(dt + dtBias) inside the kernel (identity above 20, as Mamba does)
 * @param dSkip            [H], the skip term D_h·x_t; null for none
 * @param z                [B,L,H,P], the gate: y ← y·SiLU(z); null for none
 * @param initialState     [B,H,P,N] (or [S,H,P,N], one per packed sequence); null for zeros
 * @param cuSeqlens        cumulative sequence starts {0, l₁, l₁+l₂, …, L} of S sequences packed into batch 1; the state
 *                         resets at each start; null when the batch is not packed
 * @param returnFinalState also return the state after each sequence's last position ([B,H,P,N] or [S,H,P,N])
 */
public record ScanOptions(Tensor dtBias, boolean softplus, Tensor dSkip, Tensor z, Tensor initialState, int[] cuSeqlens,
                          boolean returnFinalState) {

    /** No optional inputs: dt used as given, no D, no gate, zero initial state, no final state. */
    public static final ScanOptions NONE = new ScanOptions(null, false, null, null, null, null, false);

    public ScanOptions {
        cuSeqlens = cuSeqlens == null ? null : cuSeqlens.clone();
    }

    @Override
    public int[] cuSeqlens() { return cuSeqlens == null ? null : cuSeqlens.clone(); }

    public static Builder builder() { return new Builder(); }

    /** This options object with another initial state (used by the decoding step). */
    ScanOptions withState(Tensor state, boolean returnFinal) {
        return new ScanOptions(dtBias, softplus, dSkip, z, state, cuSeqlens, returnFinal);
    }

    /** This options object with another gate (used to reshape z for the Mamba-1 form). */
    ScanOptions withGateAndState(Tensor gate, Tensor state) {
        return new ScanOptions(dtBias, softplus, dSkip, gate, state, cuSeqlens, returnFinalState);
    }

    /** Fluent builder; every setting is optional. */
    public static final class Builder {
        private Tensor dtBias, dSkip, z, initialState;
        private boolean softplus, returnFinalState;
        private int[] cuSeqlens;

        private Builder() {}

        public Builder dtBias(Tensor v) { dtBias = v; return this; }
        public Builder softplus(boolean v) { softplus = v; return this; }
        public Builder dSkip(Tensor v) { dSkip = v; return this; }
        public Builder z(Tensor v) { z = v; return this; }
        public Builder initialState(Tensor v) { initialState = v; return this; }
        public Builder cuSeqlens(int... v) { cuSeqlens = v; return this; }
        public Builder returnFinalState(boolean v) { returnFinalState = v; return this; }

        public ScanOptions build() {
            return new ScanOptions(dtBias, softplus, dSkip, z, initialState, cuSeqlens, returnFinalState);
        }
    }
}
