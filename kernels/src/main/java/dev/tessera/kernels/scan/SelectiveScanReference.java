package dev.tessera.kernels.scan;

import static dev.tessera.kernels.scan.ScanProblem.*;

import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;

/**
 * The selective scan written to be read: the sequential recurrence of {@link SelectiveScan}, one sequence and one head
 * at a time, in double precision whatever the input dtype (F32 or F64). It is the oracle of every test and the F64 path
 * of the op. Nothing here is fast: O(B·L·H·P·N) scalar work on one thread, and the backward keeps every state.
 *
 * <p>Backward (reverse-time adjoint). With a_t = exp(Δ_t·A), S_t = a_t ⊙ S_{t−1} + Δ_t·x_t⊗B_t, ŷ_t = S_t·C_t + D·x_t,
 * y_t = ŷ_t·SiLU(z_t), let ĝ_t = ∂L/∂ŷ_t = dy_t·SiLU(z_t) and G_t = ∂L/∂S_t (through every later use):
 * <pre>
 *   G_t = ĝ_t⊗C_t + a_{t+1} ⊙ G_{t+1}          (G_L starts from the final state's gradient)
 *   dx_t = Δ_t·G_t·B_t + D·ĝ_t                 dB_t = Δ_t·G_tᵀ·x_t        dC_t = S_tᵀ·ĝ_t
 *   dΔ_t = Σ_{p,n} G_t ⊙ (x_t⊗B_t + A·a_t ⊙ S_{t−1})        dA += Σ_t Δ_t·a_t ⊙ G_t ⊙ S_{t−1} (summed over p)
 *   dD = Σ_t ĝ_t·x_t      dz_t = dy_t·ŷ_t·SiLU′(z_t)      dS_0 = a_1 ⊙ G_1
 * </pre>
 * and dt, dtBias receive dΔ·Δ′(dt + dtBias) ({@link StepSize}). Group g's dB and dC sum over its heads.
 */
public final class SelectiveScanReference {
    private SelectiveScanReference() {}

    /** The forward pass with the arguments of {@link SelectiveScan#apply}; never records autograd. */
    public static ScanResult forward(Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions options) {
        try (Grad.Region g = Grad.noGrad()) {
            return forward(ScanProblem.of("selective_scan_reference", x, dt, a, bm, cm, options));
        }
    }

    /** The problem's inputs as double arrays, with the index arithmetic of their layouts. */
    private static final class Data {
        final ScanProblem p;
        final int L, H, P, G, N;
        final double[][] v = new double[COUNT][];

        Data(ScanProblem p) {
            this.p = p;
            L = p.length; H = p.heads; P = p.headDim; G = p.groups; N = p.stateSize;
            for (int i = 0; i < COUNT; i++) v[i] = p.has(i) ? p.t[i].toDoubleArray() : null;
        }

        int xi(int b, int t, int h, int q) { return ((b * L + t) * H + h) * P + q; }
        int dti(int b, int t, int h) { return (b * L + t) * H + h; }
        int bi(int b, int t, int g, int n) { return ((b * L + t) * G + g) * N + n; }
        int ai(int h, int n) { return p.aPerState ? h * N + n : h; }
        int si(int s, int h, int q, int n) { return ((s * H + h) * P + q) * N + n; }

        /** dt + dtBias, the pre-activation of the step size. */
        double preDelta(int b, int t, int h) { return v[DT][dti(b, t, h)] + (v[DT_BIAS] == null ? 0 : v[DT_BIAS][h]); }
        double dSkip(int h) { return v[D_SKIP] == null ? 0 : v[D_SKIP][h]; }

        /** Loads sequence s's initial state of head h (zeros when none is given). */
        double[][] initialState(int s, int h) {
            double[][] st = new double[P][N];
            if (v[INIT] != null) for (int q = 0; q < P; q++) for (int n = 0; n < N; n++) st[q][n] = v[INIT][si(s, h, q, n)];
            return st;
        }

        /** S ← a ⊙ S + Δ·x_t⊗B_t for head h at row t of batch b. */
        void advance(double[][] st, int b, int t, int h, double delta) {
            int g = h / p.headsPerGroup();
            double[] decay = new double[N];
            for (int n = 0; n < N; n++) decay[n] = Math.exp(delta * v[A][ai(h, n)]);
            for (int q = 0; q < P; q++) {
                double xv = v[X][xi(b, t, h, q)];
                for (int n = 0; n < N; n++) st[q][n] = decay[n] * st[q][n] + delta * xv * v[BM][bi(b, t, g, n)];
            }
        }

        /** ŷ = S·C_t + D·x_t, before the gate. */
        double ungated(double[][] st, int b, int t, int h, int q) {
            int g = h / p.headsPerGroup();
            double y = dSkip(h) * v[X][xi(b, t, h, q)];
            for (int n = 0; n < N; n++) y += st[q][n] * v[CM][bi(b, t, g, n)];
            return y;
        }

        Tensor tensor(double[] data, int[] shape) { return Tensor.of(data, shape).to(p.dtype); }
    }

    static ScanResult forward(ScanProblem p) {
        Data d = new Data(p);
        double[] y = new double[p.batch * p.length * p.heads * p.headDim];
        double[] fin = new double[p.sequences() * p.heads * p.headDim * p.stateSize];
        for (int s = 0; s < p.sequences(); s++) {
            int b = p.seqBatch[s];
            for (int h = 0; h < p.heads; h++) {
                double[][] st = d.initialState(s, h);
                for (int t = p.seqStart[s]; t < p.seqEnd[s]; t++) {
                    d.advance(st, b, t, h, StepSize.of(d.preDelta(b, t, h), p.softplus));
                    for (int q = 0; q < p.headDim; q++) {
                        double yv = d.ungated(st, b, t, h, q);
                        if (d.v[Z] != null) yv *= silu(d.v[Z][d.xi(b, t, h, q)]);
                        y[d.xi(b, t, h, q)] = yv;
                    }
                }
                for (int q = 0; q < p.headDim; q++) for (int n = 0; n < p.stateSize; n++) fin[d.si(s, h, q, n)] = st[q][n];
            }
        }
        return new ScanResult(d.tensor(y, p.yShape()), p.returnFinal ? d.tensor(fin, p.stateShape()) : null);
    }

    /**
     * Gradients of every input, in the order of {@link ScanProblem#NAMES} (null for absent inputs), from the gradient
     * of y and (nullable) the gradient of the final state.
     */
    static Tensor[] backward(ScanProblem p, Tensor dyT, Tensor dFinalT) {
        Data d = new Data(p);
        int P = p.headDim, N = p.stateSize;
        double[] dy = dyT.toDoubleArray();
        double[] dFinal = dFinalT == null ? null : dFinalT.toDoubleArray();
        double[][] g = new double[COUNT][];
        for (int i = 0; i < COUNT; i++) g[i] = p.has(i) ? new double[(int) p.t[i].numel()] : null;
        // dS_0 is computed even without an initial state (zeros were used) and returned only when one was given
        if (g[INIT] == null) g[INIT] = new double[p.sequences() * p.heads * P * N];
        for (int s = 0; s < p.sequences(); s++) {
            int b = p.seqBatch[s], start = p.seqStart[s], len = p.seqEnd[s] - start;
            for (int h = 0; h < p.heads; h++) {
                int grp = h / p.headsPerGroup();
                // Replay the forward pass, keeping S_0..S_len: states[j] is the state after row start + j − 1.
                double[][][] states = new double[len + 1][][];
                states[0] = d.initialState(s, h);
                for (int j = 1; j <= len; j++) {
                    states[j] = copy(states[j - 1]);
                    d.advance(states[j], b, start + j - 1, h, StepSize.of(d.preDelta(b, start + j - 1, h), p.softplus));
                }
                double[][] adj = new double[P][N]; // G_t = ∂L/∂S_t
                if (dFinal != null) for (int q = 0; q < P; q++) for (int n = 0; n < N; n++) adj[q][n] = dFinal[d.si(s, h, q, n)];
                for (int j = len; j >= 1; j--) {
                    int t = start + j - 1;
                    double pre = d.preDelta(b, t, h), delta = StepSize.of(pre, p.softplus);
                    double[][] prev = states[j - 1], cur = states[j];
                    double dDelta = 0;
                    for (int q = 0; q < P; q++) {
                        int xi = d.xi(b, t, h, q);
                        double xv = d.v[X][xi];
                        double gy = dy[xi];
                        if (d.v[Z] != null) {
                            double zv = d.v[Z][xi];
                            g[Z][xi] = dy[xi] * d.ungated(cur, b, t, h, q) * siluDerivative(zv);
                            gy *= silu(zv);
                        }
                        if (g[D_SKIP] != null) g[D_SKIP][h] += gy * xv;
                        g[X][xi] += d.dSkip(h) * gy;
                        for (int n = 0; n < N; n++) {
                            int bi = d.bi(b, t, grp, n), ai = d.ai(h, n);
                            double bv = d.v[BM][bi], av = d.v[A][ai], decay = Math.exp(delta * av);
                            g[CM][bi] += gy * cur[q][n];
                            adj[q][n] += gy * d.v[CM][bi];
                            g[X][xi] += delta * adj[q][n] * bv;
                            g[BM][bi] += delta * adj[q][n] * xv;
                            dDelta += adj[q][n] * (xv * bv + av * decay * prev[q][n]);
                            g[A][ai] += adj[q][n] * delta * decay * prev[q][n];
                            adj[q][n] *= decay; // now a_t ⊙ G_t, the part of G_{t−1} that flows through S_t
                        }
                    }
                    double dPre = dDelta * StepSize.derivative(pre, p.softplus);
                    g[DT][d.dti(b, t, h)] += dPre;
                    if (g[DT_BIAS] != null) g[DT_BIAS][h] += dPre;
                }
                for (int q = 0; q < P; q++) for (int n = 0; n < N; n++) g[INIT][d.si(s, h, q, n)] = adj[q][n];
            }
        }
        Tensor[] out = new Tensor[COUNT];
        for (int i = 0; i < COUNT; i++) if (p.has(i)) out[i] = d.tensor(g[i], p.t[i].shape());
        return out;
    }

    static double[][] copy(double[][] m) {
        double[][] c = new double[m.length][];
        for (int i = 0; i < m.length; i++) c[i] = m[i].clone();
        return c;
    }

    static double silu(double z) { return z / (1 + Math.exp(-z)); }

    /** d/dz z·σ(z) = σ(z)·(1 + z·(1 − σ(z))). */
    static double siluDerivative(double z) {
        double s = 1 / (1 + Math.exp(-z));
        return s * (1 + z * (1 - s));
    }
}
