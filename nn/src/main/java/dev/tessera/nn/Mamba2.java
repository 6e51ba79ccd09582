package dev.tessera.nn;

import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * The Mamba-2 mixer (Dao &amp; Gu, arXiv 2405.21060) with H-Net's settings: {@code in_proj} D → [z | xBC | dt],
 * causal depthwise conv1d (width {@code dConv}, with bias) + SiLU over xBC, split into x (H heads × P), B and C
 * (G groups × N), the selective scan with Δ = softplus(dt + dt_bias), A = −exp(A_log) and the D skip, the gated
 * RMSNorm RMSNorm(y ⊙ SiLU(z)), and {@code out_proj} back to D. Names and shapes follow the reference code.
 */
public final class Mamba2 extends Module implements Mixer {
    private final int dim, dInner, heads, headDim, groups, dState, convDim;
    private final Linear inProj, outProj;
    private final CausalConv1d conv1d;
    private final Parameter dtBias, aLog, dSkip;
    private final GatedRMSNorm norm;

    /** H-Net's defaults: d_state 128, d_conv 4, expand 2, headdim 64, one group. */
    public Mamba2(int dim, Generator gen) { this(dim, 128, 4, 2, 64, 1, gen); }

    public Mamba2(int dim, int dState, int dConv, int expand, int headDim, int groups, Generator gen) {
        if (dim < 1 || dState < 1 || dConv < 1 || expand < 1 || headDim < 1 || groups < 1) {
            throw new IllegalArgumentException("Mamba2: every size must be positive, got d_model " + dim + ", d_state " + dState + ", d_conv "
                    + dConv + ", expand " + expand + ", headdim " + headDim + ", groups " + groups);
        }
        this.dim = dim;
        this.dInner = expand * dim;
        if (dInner % headDim != 0) throw new IllegalArgumentException("Mamba2: d_inner " + dInner + " is not a multiple of headdim " + headDim);
        this.heads = dInner / headDim;
        if (heads % groups != 0) throw new IllegalArgumentException("Mamba2: " + heads + " heads are not a multiple of " + groups + " groups");
        this.headDim = headDim;
        this.groups = groups;
        this.dState = dState;
        this.convDim = dInner + 2 * groups * dState;
        this.inProj = module("in_proj", new Linear(dim, 2 * dInner + 2 * groups * dState + heads, false, gen));
        this.conv1d = module("conv1d", new CausalConv1d(convDim, dConv, gen));
        this.dtBias = parameter("dt_bias", new Parameter(initDtBias(gen, heads), true));
        this.aLog = parameter("A_log", new Parameter(initALog(gen, heads)));
        this.dSkip = parameter("D", new Parameter(Tensor.ones(DType.F32, heads)));
        this.norm = module("norm", new GatedRMSNorm(dInner, 1e-5));
        this.outProj = module("out_proj", new Linear(dInner, dim, false, gen));
    }

    /** softplus⁻¹(Δ) for Δ = exp(U[ln 1e-3, ln 0.1]) floored at 1e-4 (the reference init). */
    static Tensor initDtBias(Generator gen, int heads) {
        float[] u = uniform(gen, heads), out = new float[heads];
        for (int h = 0; h < heads; h++) {
            double dt = Math.max(1e-4, Math.exp(Math.log(1e-3) + u[h] * (Math.log(0.1) - Math.log(1e-3))));
            out[h] = (float) (dt + Math.log(-Math.expm1(-dt)));
        }
        return Tensor.of(out, heads);
    }

    /**
     * {@code n} draws of U[0, 1) from {@code gen} (zeros, drawing nothing, in {@link Init#forLoading()}); the tensor
     * they came in is released here, not left to the GC.
     */
    private static float[] uniform(Generator gen, int n) {
        if (Init.isLoading()) return new float[n];
        try (Tensor u = Tensor.rand(gen, n)) {
            return u.toFloatArray();
        }
    }

    /** ln A with A ~ U[1, 16]. */
    static Tensor initALog(Generator gen, int heads) {
        float[] u = uniform(gen, heads), out = new float[heads];
        for (int h = 0; h < heads; h++) out[h] = (float) Math.log(1 + 15 * u[h]);
        return Tensor.of(out, heads);
    }

    /** The projections and the convolution, and the scan's 5 operations per state element (H·P·N) and position. */
    @Override public ForwardFlops forwardFlops(double positions) {
        return super.forwardFlops(positions).plus(new ForwardFlops(0, 0, 0, 5.0 * heads * headDim * dState * positions));
    }

    public Linear inProj() { return inProj; }

    public Linear outProj() { return outProj; }

    private ScanOptions scanOptions() { return scanOptions(null); }

    private ScanOptions scanOptions(int[] cuSeqlens) {
        return ScanOptions.builder().dtBias(dtBias.value()).softplus(true).dSkip(dSkip.value()).cuSeqlens(cuSeqlens).build();
    }

    private Tensor a() { return aLog.value().exp().neg(); }

    /**
     * u [B, L, D] → [B, L, D]; with {@code cuSeqlens} (B = 1) both the convolution and the scan state restart at
     * each document start, so each packed document is mixed as if alone.
     */
    @Override
    public Tensor forward(Tensor u, int[] cuSeqlens) {
        checkInput(u);
        int b = u.size(0), l = u.size(1), gn = groups * dState;
        Tensor zxbcdt = inProj.forward(u);
        Tensor z = zxbcdt.narrow(2, 0, dInner);
        Tensor xbc = conv1d.forward(zxbcdt.narrow(2, dInner, convDim), cuSeqlens).silu();
        Tensor dt = zxbcdt.narrow(2, dInner + convDim, heads);
        Tensor x = xbc.narrow(2, 0, dInner).reshape(b, l, heads, headDim);
        Tensor bm = xbc.narrow(2, dInner, gn).reshape(b, l, groups, dState);
        Tensor cm = xbc.narrow(2, dInner + gn, gn).reshape(b, l, groups, dState);
        Tensor y = SelectiveScan.apply(x, dt, a(), bm, cm, scanOptions(cuSeqlens)).y().reshape(b, l, dInner);
        return outProj.forward(norm.forward(y, z));
    }

    private void checkInput(Tensor u) {
        if (u.dim() != 3 || u.size(2) != dim) {
            throw new IllegalArgumentException("Mamba2: input must be [B, L, " + dim + "], got " + java.util.Arrays.toString(u.shape()));
        }
    }

    /** The last dConv−1 raw xBC rows [B, K−1, convDim] and the SSM state [B, H, P, N]. */
    static final class State implements DecodeState {
        final Tensor conv, ssm;

        State(Tensor conv, Tensor ssm) {
            this.conv = Scope.persist(conv);
            this.ssm = Scope.persist(ssm);
        }

        @Override public void close() {
            conv.close();
            ssm.close();
        }
    }

    @Override
    public DecodeState newState(int batch, int maxLength) {
        return new State(Tensor.zeros(dtype(), device(), batch, conv1d.width() - 1, convDim), Tensor.zeros(dtype(), device(), batch, heads, headDim, dState));
    }

    @Override
    public Tensor prefill(Tensor u, DecodeState state, int row) {
        checkInput(u);
        State st = (State) state;
        if (u.size(0) != 1) throw new IllegalArgumentException("Mamba2 prefill: one sequence [1, L, " + dim + "], got " + java.util.Arrays.toString(u.shape()));
        java.util.Objects.checkIndex(row, st.conv.size(0));
        int l = u.size(1), gn = groups * dState, k = conv1d.width();
        try (Grad.Region g = Grad.noGrad()) {
            Tensor zxbcdt = inProj.forward(u);
            Tensor z = zxbcdt.narrow(2, 0, dInner);
            Tensor raw = zxbcdt.narrow(2, dInner, convDim);
            Tensor xbc = conv1d.forward(raw).silu();
            // The convolution's state: the last K−1 raw inputs, zeros before the sequence start (as a fresh state holds).
            Tensor tail = l >= k - 1 ? raw.narrow(1, l - (k - 1), k - 1)
                    : Tensor.cat(List.of(Tensor.zeros(raw.dtype(), raw.device(), 1, k - 1 - l, convDim), raw), 1);
            st.conv.narrow(0, row, 1).copyFrom(tail);
            Tensor x = xbc.narrow(2, 0, dInner).reshape(1, l, heads, headDim);
            Tensor bm = xbc.narrow(2, dInner, gn).reshape(1, l, groups, dState);
            Tensor cm = xbc.narrow(2, dInner + gn, gn).reshape(1, l, groups, dState);
            ScanOptions withState = ScanOptions.builder().dtBias(dtBias.value()).softplus(true).dSkip(dSkip.value()).returnFinalState(true).build();
            var scanned = SelectiveScan.apply(x, zxbcdt.narrow(2, dInner + convDim, heads), a(), bm, cm, withState);
            st.ssm.narrow(0, row, 1).copyFrom(scanned.finalState());
            return outProj.forward(norm.forward(scanned.y().reshape(1, l, dInner), z));
        }
    }

    /** The rows' states are gathered (a view for one run of consecutive rows), stepped together and written back. */
    @Override
    public Tensor step(Tensor u, DecodeState state, RowSubset rows) {
        checkInput(u);
        if (u.size(1) != 1) throw new IllegalArgumentException("Mamba2 step: one position at a time, got length " + u.size(1));
        State st = (State) state;
        if (rows.batch() != st.conv.size(0) || rows.size() != u.size(0) || rows.isEmpty()) {
            throw new IllegalArgumentException("Mamba2 step: " + u.size(0) + " inputs for " + rows + " of a state of " + st.conv.size(0)
                    + " rows (at least one row steps)");
        }
        int b = u.size(0), gn = groups * dState;
        try (Grad.Region g = Grad.noGrad()) {
            Tensor conv = rows.gather(st.conv), ssm = rows.gather(st.ssm);
            Tensor zxbcdt = inProj.forward(u);
            Tensor z = zxbcdt.narrow(2, 0, dInner);
            // the convolution's output at the new position, its state advanced in place (fused: no window, one position)
            Tensor xbc = conv1d.step(conv, zxbcdt.narrow(2, dInner, convDim).select(1, 0)).unsqueeze(1).silu();
            rows.scatter(st.conv, conv); // nothing to copy when conv is a view of the state
            Tensor dt = zxbcdt.narrow(2, dInner + convDim, heads).reshape(b, heads);
            Tensor x = xbc.narrow(2, 0, dInner).reshape(b, heads, headDim);
            Tensor bm = xbc.narrow(2, dInner, gn).reshape(b, groups, dState);
            Tensor cm = xbc.narrow(2, dInner + gn, gn).reshape(b, groups, dState);
            Tensor y = SelectiveScan.step(ssm, x, dt, a(), bm, cm, scanOptions()).reshape(b, 1, dInner);
            rows.scatter(st.ssm, ssm); // nothing to copy when ssm is a view of the state
            return outProj.forward(norm.forward(y, z));
        }
    }
}
