package dev.tessera.kernels.scan;

import static dev.tessera.kernels.scan.ScanProblem.*;

import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The chunked F32 forward of the Mamba-2 scan (scalar A per head): the state-space duality of Dao &amp; Gu,
 * "Transformers are SSMs" (arXiv 2405.21060, §6, the SSD algorithm). The sequential recurrence does three vector
 * operations per state element and position and is bound by the state's loads and stores; here almost all work is
 * small dense matrix products, which the Vector API runs near the FMA peak.
 *
 * <p>Math, per (sequence, head). Each sequence is cut into chunks of {@link #Q} positions counted from its own start
 * (so packed sequences never share a chunk and the state restarts exactly at each start). Inside a chunk, index
 * positions i, j = 0..ℓ−1, write a_i = exp(Δ_i·A) (exactly the factor the recurrence uses), X̃_j = Δ_j·x_j (a row of P),
 * and S the P×N state before the chunk. Unrolling S_i = a_i·S_{i−1} + X̃_i⊗B_i gives
 * <pre>
 *   L[i][j] = a_{j+1}·…·a_i  (j ≤ i; 0 above the diagonal)        — the decay from position j to position i
 *   cin[i]  = a_0·…·a_i = exp(Σ_{k≤i} Δ_k·A)                      — the decay of the incoming state up to i
 *   y_i     = Σ_{j≤i} (C_i·B_j)·L[i][j]·X̃_j  +  cin[i]·S·C_i       (Y_diag: the quadratic "attention" form, and Y_off)
 *   S'      = cin[ℓ−1]·S + Σ_j L[ℓ−1][j]·X̃_j⊗B_j                  (the state handed to the next chunk)
 * </pre>
 * then y_i += Dskip·x_i and the gate. The decays are products of the per-step factors, i.e. exp of the segment sums
 * Σ_{k=j+1..i} Δ_k·A built up one term at a time (row i of L is row i−1 times a_i): every factor is in [0, 1] for
 * A ≤ 0, so nothing overflows, an underflow (Δ·A → −∞) flushes to an exact 0, and there is no exp(cumsum_i) /
 * exp(cumsum_j) quotient to become 0/0 or ∞/∞ with extreme Δ. The relative rounding is at most ℓ ulps, as in the
 * sequential recurrence.
 *
 * <p>Layout, with the state kept transposed (Sᵀ, N×P, rows of P on the vector lanes): Y = W·[X̃; Sᵀ] with
 * W = [C Bᵀ ∘ L | cin ∘ C] (ℓ×(Q+N)) gives Y_diag + Y_off (only the lower triangle of the first part is visited), and
 * the state update is Sᵀ ← cin[ℓ−1]·Sᵀ + Bᵀ·(L[ℓ−1] ∘ X̃), an N×Q by Q×P product. All products (C Bᵀ, Y, the state)
 * run on one register-blocked kernel ({@link #gemm}): 4 rows by 4 vectors of accumulators. P is padded to whole
 * vectors and N to a multiple of 4 with zeros, so the kernel has no scalar tails. C, Bᵀ and C Bᵀ depend on the group
 * only, so a task scans all heads of a group (or a slice of them, to keep both threads busy) chunk by chunk, and
 * builds them once per chunk for its heads.
 *
 * <p>Used for the forward when A is [H]; the Mamba-1 form (A [H,N]) keeps the sequential kernel, since a per-state
 * decay does not factor out of C Bᵀ. The backward of the same form is {@link ChunkedScanBackward}, in the same chunks.
 */
final class ChunkedScan {
    private ChunkedScan() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Chunk length: a multiple of every vector length, and small enough that a head's buffers stay in L2. */
    static final int Q = 64;

    /**
     * Decays below this are taken as 0. They only shrink along a chunk (every factor is in [0, 1]), and on their way to
     * an underflow they pass through the subnormal floats, where every multiply-add that touches one costs a
     * microcode assist: a head with |Δ·A| near 1.6 (the reference init allows it) made the scan two to three times
     * slower. A term this small is below the last bit of any sum it joins unless the sum itself is as small.
     */
    static final float TINY = 1e-30f;

    /** v, or 0 when it is below {@link #TINY}. */
    static float flushTiny(float v) { return v < TINY ? 0f : v; }

    /** Off only to compare with the sequential kernel in a benchmark harness. */
    static boolean enabled = true;

    static boolean applies(ScanProblem p) { return enabled && !p.aPerState && Q % F.length() == 0; }

    private static int roundUp(int v, int m) { return (v + m - 1) / m * m; }

    /** The forward; with {@code keep}, also each chunk's entering state and step factors, for the backward. */
    static ScanResult forward(ScanProblem p, ChunkStates keep) {
        SelectiveScanCpu.Raw in = new SelectiveScanCpu.Raw(p);
        Tensor y = SelectiveScanCpu.alloc(p.yShape());
        Tensor fin = p.returnFinal ? SelectiveScanCpu.alloc(p.stateShape()) : null;
        MemorySegment ys = SelectiveScanCpu.mem(y), fs = fin == null ? null : SelectiveScanCpu.mem(fin);
        // One task per (sequence, group, slice of the group's heads): C, Bᵀ and C Bᵀ are shared by the heads of a
        // group, so a task takes as many heads as it can while there are still two tasks per thread.
        int hpg = p.headsPerGroup(), units = p.sequences() * p.groups;
        int slices = Math.min(hpg, Math.max(1, (2 * KernelSupport.cpuThreads() + units - 1) / units));
        int perSlice = (hpg + slices - 1) / slices;
        KernelSupport.parallelFor((long) units * slices, 1, (lo, hi) -> {
            Work w = new Work(p, in, perSlice, keep);
            for (long task = lo; task < hi; task++) {
                int unit = (int) (task / slices), slice = (int) (task % slices);
                int s = unit / p.groups, g = unit % p.groups;
                int h0 = g * hpg + slice * perSlice, h1 = Math.min((g + 1) * hpg, h0 + perSlice);
                if (h0 < h1) w.run(s, g, h0, h1, ys, fs);
            }
        });
        return new ScanResult(y, fin);
    }

    /** One thread's buffers: one chunk of one group, and the states of up to {@code heads} heads. */
    private static final class Work {
        final ScanProblem p;
        final SelectiveScanCpu.Raw in;
        final ChunkStates keep;
        final int P, N, G, H, Pp, Np, ws, stSize;
        /** X̃, the Δ-scaled x of one head's chunk: Q rows of stride Pp (padding columns stay zero). */
        final float[] xs;
        /** The states Sᵀ (N×P, rows of stride Pp, Np rows) of the task's heads, one after another. */
        final float[] st;
        /** W = [C Bᵀ ∘ L | cin ∘ C] of one head, Q rows of stride ws = Q + N. */
        final float[] w;
        /** The group's C (Q×N), Bᵀ (Np×Q) and C Bᵀ (Q×Q) for the chunk. */
        final float[] cm, bt, cb;
        final float[] yb, lrow, cin, step, row, state;
        /** Δ and, when kept for the backward, dΔ/dv of the head's rows. */
        final float[] delta, deriv;
        /** Δ's pre-activations dt + dtBias of the head's rows. */
        final float[] pre;
        /**
         * The chunk's rows of x, Δ's pre-activation and z for the task's heads, and its rows of y, each copied in one
         * piece per row: a head's part of a row is a few dozen bytes of a row hundreds long (x is usually a slice of the
         * convolution's output), and reading or writing it head by head took a cache miss per row and head.
         */
        final float[] xRows, dtRows, zRows, yRows;

        Work(ScanProblem p, SelectiveScanCpu.Raw in, int heads, ChunkStates keep) {
            this.p = p;
            this.in = in;
            this.keep = keep;
            P = p.headDim; N = p.stateSize; G = p.groups; H = p.heads;
            Pp = roundUp(P, F.length());
            Np = roundUp(N, 4);
            ws = Q + N;
            stSize = Np * Pp;
            xs = new float[Q * Pp];
            st = new float[heads * stSize];
            w = new float[Q * ws];
            cm = new float[Q * N];
            bt = new float[Np * Q];
            cb = new float[Q * Q];
            yb = new float[Q * Pp];
            lrow = new float[Q];
            cin = new float[Q];
            step = new float[Q];
            delta = new float[Q];
            deriv = new float[Q];
            pre = new float[Q];
            row = new float[Math.max(P, N)];
            state = new float[P * N];
            xRows = new float[Q * heads * P];
            dtRows = new float[Q * heads];
            zRows = p.has(Z) ? new float[Q * heads * P] : null;
            yRows = new float[Q * heads * P];
        }

        void run(int s, int g, int h0, int h1, MemorySegment ys, MemorySegment fs) {
            Arrays.fill(st, 0f);
            for (int h = h0; h < h1; h++) { // initial states, transposed; padding stays zero
                int o = (h - h0) * stSize;
                SelectiveScanCpu.loadInitial(p, in, s, h, state, 0);
                for (int q = 0; q < P; q++) for (int n = 0; n < N; n++) st[o + n * Pp + q] = state[q * N + n];
            }
            long batchRow = (long) p.seqBatch[s] * p.length;
            for (int c0 = p.seqStart[s], c = 0; c0 < p.seqEnd[s]; c0 += Q, c++) {
                int len = Math.min(Q, p.seqEnd[s] - c0);
                loadGroup(batchRow + c0, len, g);
                loadRows(batchRow + c0, len, h0, h1 - h0);
                for (int h = h0; h < h1; h++) {
                    int o = (h - h0) * stSize;
                    loadHead(len, h, h - h0, h1 - h0);
                    if (keep != null) keepChunk(s, h, c, len, o);
                    products(len, o);
                    output(len, h, h - h0, h1 - h0);
                    advanceState(len, o);
                }
                for (int i = 0, n = (h1 - h0) * P; i < len; i++) {
                    SelectiveScanCpu.write(yRows, i * n, ys, ((batchRow + c0 + i) * H + h0) * P, n);
                }
            }
            if (fs != null) {
                for (int h = h0; h < h1; h++) {
                    int o = (h - h0) * stSize;
                    for (int q = 0; q < P; q++) for (int n = 0; n < N; n++) state[q * N + n] = st[o + n * Pp + q];
                    SelectiveScanCpu.write(state, 0, fs, ((long) s * H + h) * P * N, P * N);
                }
            }
        }

        /** The group's C and Bᵀ for rows [row0, row0 + len), and C Bᵀ (the lower triangle, by blocks of four rows). */
        private void loadGroup(long row0, int len, int g) {
            if (len < Q) { // rows past the chunk's end must contribute nothing
                Arrays.fill(cm, len * N, Q * N, 0f);
                Arrays.fill(bt, 0f);
            }
            for (int i = 0; i < len; i++) {
                long r = row0 + i;
                loadRow(in, CM, in.at(CM, r, (long) g * N), cm, i * N, N, 1f);
                loadRow(in, BM, in.at(BM, r, (long) g * N), row, 0, N, 1f);
                for (int n = 0; n < N; n++) bt[n * Q + i] = row[n];
            }
            for (int i0 = 0; i0 < roundUp(len, 4); i0 += 4) {
                gemm(cm, i0 * N, N, bt, 0, Q, 0, N, cb, i0 * Q, Q, roundUp(i0 + 4, F.length()), false);
            }
        }

        /** Head h's state entering chunk c (from Sᵀ at st[o ..]) and the chunk's a_i, cin, Δ and dΔ/dv, into keep. */
        private void keepChunk(int s, int h, int c, int len, int o) {
            float[] to = keep.states[s * H + h];
            int at = c * keep.ss;
            for (int q = 0; q < P; q++) for (int n = 0; n < N; n++) to[at + q * keep.nv + n] = st[o + n * Pp + q];
            float[] f = keep.steps[s * H + h];
            int f0 = c * 4 * Q;
            System.arraycopy(step, 0, f, f0, len);
            System.arraycopy(cin, 0, f, f0 + Q, len);
            System.arraycopy(delta, 0, f, f0 + 2 * Q, len);
            System.arraycopy(deriv, 0, f, f0 + 3 * Q, len);
        }

        /** Rows [row0, row0 + len) of x, Δ's pre-activation and z for heads [h0, h0 + nh). */
        private void loadRows(long row0, int len, int h0, int nh) {
            for (int i = 0; i < len; i++) {
                long r = row0 + i;
                in.read(X, in.at(X, r, (long) h0 * P), xRows, i * nh * P, nh * P);
                in.read(DT, in.at(DT, r, h0), dtRows, i * nh, nh);
                if (zRows != null) in.read(Z, in.at(Z, r, (long) h0 * P), zRows, i * nh * P, nh * P);
            }
        }

        /**
         * Head h's rows (the task's hi-th of nh): Δ, the step factors a_i = exp(Δ_i·A) and dΔ/dv over whole vectors of
         * positions ({@link StepSizeF32}: an exponential and a logarithm per position and head were a third of the
         * forward's time as scalar calls), then X̃ = Δ·x and the running product cin of the a_i.
         */
        private void loadHead(int len, int h, int hi, int nh) {
            if (len < Q) {
                Arrays.fill(xs, len * Pp, Q * Pp, 0f);
                Arrays.fill(pre, len, Q, 0f); // lanes past the chunk's end: computed, never read
            }
            float aH = in.a[h], bias = in.dtBias[h];
            for (int i = 0; i < len; i++) pre[i] = dtRows[i * nh + hi] + bias;
            for (int i = 0; i < len; i += F.length()) {
                FloatVector v = FloatVector.fromArray(F, pre, i), t = StepSizeF32.expNegAbs(v);
                FloatVector d = StepSizeF32.of(v, t, p.softplus);
                d.intoArray(delta, i);
                VectorMath.exp(d.mul(aH)).intoArray(step, i);
                if (keep != null) StepSizeF32.derivative(v, t, p.softplus).intoArray(deriv, i);
            }
            float decayIn = 1;
            for (int i = 0; i < len; i++) {
                scaled(xRows, (i * nh + hi) * P, xs, i * Pp, P, delta[i]);
                decayIn = flushTiny(decayIn * step[i]);
                cin[i] = decayIn;
            }
        }

        /** W = [C Bᵀ ∘ L | cin ∘ C], then Y = W·[X̃; Sᵀ] into yb (state at st[o ..]). */
        private void products(int len, int o) {
            int rows = roundUp(len, 4);
            // C Bᵀ ∘ L, row by row: L[i][·] = a_i·L[i−1][·] with L[i][i] = 1, over whole vectors of columns (those past
            // i hold L's zeros, so W's stay zero too; the products read no further than row i's block of four)
            Arrays.fill(lrow, 0f);
            for (int i = 0; i < len; i++) {
                decayRow(lrow, step[i], i);
                int wi = i * ws, ci = i * Q;
                for (int j = 0, cols = roundUp(i + 1, F.length()); j < cols; j += F.length()) {
                    FloatVector.fromArray(F, cb, ci + j).mul(FloatVector.fromArray(F, lrow, j)).intoArray(w, wi + j);
                }
            }
            for (int i = len; i < rows; i++) Arrays.fill(w, i * ws, i * ws + Q, 0f);
            for (int i = 0; i < rows; i++) scaled(cm, i * N, w, i * ws + Q, N, i < len ? cin[i] : 0);
            // the state part first, then the lower triangle of the chunk part
            for (int i0 = 0; i0 < rows; i0 += 4) {
                gemm(w, i0 * ws + Q, ws, st, o, Pp, 0, N, yb, i0 * Pp, Pp, Pp, false);
                gemm(w, i0 * ws, ws, xs, 0, Pp, 0, Math.min(i0 + 4, len), yb, i0 * Pp, Pp, Pp, true);
            }
        }

        /** Head h's y rows (into yRows): Y + Dskip·x, times SiLU(z) when gated. */
        private void output(int len, int h, int hi, int nh) {
            float dSkip = in.dSkip[h];
            int vl = F.length(), bound = F.loopBound(P);
            FloatVector d = FloatVector.broadcast(F, dSkip);
            for (int i = 0; i < len; i++) {
                int o = i * Pp, r = (i * nh + hi) * P, q = 0;
                if (zRows != null) {
                    for (; q < P; q++) yRows[r + q] = (yb[o + q] + dSkip * xRows[r + q]) * SelectiveScanCpu.silu(zRows[r + q]);
                } else {
                    for (; q < bound; q += vl) {
                        FloatVector.fromArray(F, xRows, r + q).fma(d, FloatVector.fromArray(F, yb, o + q)).intoArray(yRows, r + q);
                    }
                    for (; q < P; q++) yRows[r + q] = yb[o + q] + dSkip * xRows[r + q];
                }
            }
        }

        /** Sᵀ ← cin[ℓ−1]·Sᵀ + Bᵀ·(L[ℓ−1] ∘ X̃), with L[ℓ−1] left in lrow by {@link #products}; X̃ is scaled in place. */
        private void advanceState(int len, int o) {
            int vl = F.length();
            for (int j = 0; j < len; j++) {
                FloatVector lj = FloatVector.broadcast(F, lrow[j]);
                for (int q = j * Pp, e = q + Pp; q < e; q += vl) FloatVector.fromArray(F, xs, q).mul(lj).intoArray(xs, q);
            }
            FloatVector total = FloatVector.broadcast(F, cin[len - 1]);
            for (int k = o, e = o + N * Pp; k < e; k += vl) FloatVector.fromArray(F, st, k).mul(total).intoArray(st, k);
            for (int n0 = 0; n0 < Np; n0 += 4) gemm(bt, n0 * Q, Q, xs, 0, Pp, 0, len, st, o + n0 * Pp, Pp, Pp, true);
        }
    }

    /**
     * Row i of the decays from row i − 1's: l[j] = a_i·l[j] (flushed below {@link #TINY}) for j &lt; i, then l[i] = 1;
     * computed over whole vectors, the columns past i staying 0.
     */
    static void decayRow(float[] l, float ai, int i) {
        FloatVector a = FloatVector.broadcast(F, ai);
        for (int j = 0, cols = roundUp(i + 1, F.length()); j < cols; j += F.length()) {
            FloatVector v = FloatVector.fromArray(F, l, j).mul(a);
            v.blend(0f, v.lt(TINY)).intoArray(l, j);
        }
        l[i] = 1;
    }

    /** dst[dstOff + k] = scale·src[srcOff + k] for k &lt; n. */
    static void scaled(float[] src, int srcOff, float[] dst, int dstOff, int n, float scale) {
        int vl = F.length(), bound = F.loopBound(n), k = 0;
        for (; k < bound; k += vl) FloatVector.fromArray(F, src, srcOff + k).mul(scale).intoArray(dst, dstOff + k);
        for (; k < n; k++) dst[dstOff + k] = scale * src[srcOff + k];
    }

    /** dst[dstOff + k] = scale·src[index + k] for k &lt; n, src being the problem's tensor i. */
    private static void loadRow(SelectiveScanCpu.Raw in, int i, long index, float[] dst, int dstOff, int n, float scale) {
        MemorySegment seg = in.seg[i];
        long base = (in.off[i] + index) * 4;
        int vl = F.length(), bound = F.loopBound(n), k = 0;
        for (; k < bound; k += vl) {
            FloatVector.fromMemorySegment(F, seg, base + k * 4L, ByteOrder.nativeOrder()).mul(scale).intoArray(dst, dstOff + k);
        }
        for (; k < n; k++) dst[dstOff + k] = scale * seg.get(ValueLayout.JAVA_FLOAT, base + k * 4L);
    }

    /**
     * out[r][c] (+)= Σ_{k0 ≤ k &lt; k1} a[aOff + r·aStride + k] · b[bOff + k·bStride + c] for the four rows r = 0..3
     * and columns c &lt; cols (a whole number of vectors): 4×4-vector register tiles, then 4×1.
     */
    static void gemm(float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, int k0, int k1,
                     float[] out, int oOff, int oStride, int cols, boolean accumulate) {
        int vl = F.length();
        int a0 = aOff, a1 = aOff + aStride, a2 = aOff + 2 * aStride, a3 = aOff + 3 * aStride;
        int o0 = oOff, o1 = oOff + oStride, o2 = oOff + 2 * oStride, o3 = oOff + 3 * oStride;
        int c = 0;
        for (; c + 4 * vl <= cols; c += 4 * vl) {
            FloatVector s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33;
            if (accumulate) {
                s00 = FloatVector.fromArray(F, out, o0 + c); s01 = FloatVector.fromArray(F, out, o0 + c + vl);
                s02 = FloatVector.fromArray(F, out, o0 + c + 2 * vl); s03 = FloatVector.fromArray(F, out, o0 + c + 3 * vl);
                s10 = FloatVector.fromArray(F, out, o1 + c); s11 = FloatVector.fromArray(F, out, o1 + c + vl);
                s12 = FloatVector.fromArray(F, out, o1 + c + 2 * vl); s13 = FloatVector.fromArray(F, out, o1 + c + 3 * vl);
                s20 = FloatVector.fromArray(F, out, o2 + c); s21 = FloatVector.fromArray(F, out, o2 + c + vl);
                s22 = FloatVector.fromArray(F, out, o2 + c + 2 * vl); s23 = FloatVector.fromArray(F, out, o2 + c + 3 * vl);
                s30 = FloatVector.fromArray(F, out, o3 + c); s31 = FloatVector.fromArray(F, out, o3 + c + vl);
                s32 = FloatVector.fromArray(F, out, o3 + c + 2 * vl); s33 = FloatVector.fromArray(F, out, o3 + c + 3 * vl);
            } else {
                s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = FloatVector.zero(F);
            }
            for (int k = k0; k < k1; k++) {
                int bk = bOff + k * bStride + c;
                FloatVector b0 = FloatVector.fromArray(F, b, bk), b1 = FloatVector.fromArray(F, b, bk + vl);
                FloatVector b2 = FloatVector.fromArray(F, b, bk + 2 * vl), b3 = FloatVector.fromArray(F, b, bk + 3 * vl);
                FloatVector r = FloatVector.broadcast(F, a[a0 + k]);
                s00 = r.fma(b0, s00); s01 = r.fma(b1, s01); s02 = r.fma(b2, s02); s03 = r.fma(b3, s03);
                r = FloatVector.broadcast(F, a[a1 + k]);
                s10 = r.fma(b0, s10); s11 = r.fma(b1, s11); s12 = r.fma(b2, s12); s13 = r.fma(b3, s13);
                r = FloatVector.broadcast(F, a[a2 + k]);
                s20 = r.fma(b0, s20); s21 = r.fma(b1, s21); s22 = r.fma(b2, s22); s23 = r.fma(b3, s23);
                r = FloatVector.broadcast(F, a[a3 + k]);
                s30 = r.fma(b0, s30); s31 = r.fma(b1, s31); s32 = r.fma(b2, s32); s33 = r.fma(b3, s33);
            }
            s00.intoArray(out, o0 + c); s01.intoArray(out, o0 + c + vl); s02.intoArray(out, o0 + c + 2 * vl); s03.intoArray(out, o0 + c + 3 * vl);
            s10.intoArray(out, o1 + c); s11.intoArray(out, o1 + c + vl); s12.intoArray(out, o1 + c + 2 * vl); s13.intoArray(out, o1 + c + 3 * vl);
            s20.intoArray(out, o2 + c); s21.intoArray(out, o2 + c + vl); s22.intoArray(out, o2 + c + 2 * vl); s23.intoArray(out, o2 + c + 3 * vl);
            s30.intoArray(out, o3 + c); s31.intoArray(out, o3 + c + vl); s32.intoArray(out, o3 + c + 2 * vl); s33.intoArray(out, o3 + c + 3 * vl);
        }
        for (; c < cols; c += vl) {
            FloatVector s0, s1, s2, s3;
            if (accumulate) {
                s0 = FloatVector.fromArray(F, out, o0 + c); s1 = FloatVector.fromArray(F, out, o1 + c);
                s2 = FloatVector.fromArray(F, out, o2 + c); s3 = FloatVector.fromArray(F, out, o3 + c);
            } else {
                s0 = s1 = s2 = s3 = FloatVector.zero(F);
            }
            for (int k = k0; k < k1; k++) {
                FloatVector bv = FloatVector.fromArray(F, b, bOff + k * bStride + c);
                s0 = FloatVector.broadcast(F, a[a0 + k]).fma(bv, s0);
                s1 = FloatVector.broadcast(F, a[a1 + k]).fma(bv, s1);
                s2 = FloatVector.broadcast(F, a[a2 + k]).fma(bv, s2);
                s3 = FloatVector.broadcast(F, a[a3 + k]).fma(bv, s3);
            }
            s0.intoArray(out, o0 + c); s1.intoArray(out, o1 + c); s2.intoArray(out, o2 + c); s3.intoArray(out, o3 + c);
        }
    }
}
