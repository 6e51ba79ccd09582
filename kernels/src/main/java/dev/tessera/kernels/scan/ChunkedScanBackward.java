package dev.tessera.kernels.scan;

import static dev.tessera.kernels.scan.ScanProblem.*;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The chunked F32 backward of the Mamba-2 scan (scalar A per head), the adjoint of {@link ChunkedScan}'s forward in
 * the same chunks of {@link ChunkedScan#Q} positions counted from each sequence's start.
 *
 * <p>Math, per (sequence, head) and chunk, with the notation of {@link ChunkedScan}: positions i, j, k = 0..ℓ−1,
 * a_i = exp(Δ_i·A), X̃_j = Δ_j·x_j, L[k][j] = a_{j+1}·…·a_k (j ≤ k), cin[k] = a_0·…·a_k, lend[j] = L[ℓ−1][j],
 * S the state before the chunk, S' = cin[ℓ−1]·S + Σ_j lend[j]·X̃_j⊗B_j the state after it, ĝ_k = ∂L/∂ŷ_k (dy times
 * SiLU(z) when gated) and G' = ∂L/∂S' through everything after the chunk (the final state's gradient for the last
 * one). With M = Ĝ X̃ᵀ (M[k][j] = ĝ_k·X̃_j), V = M ∘ L and W = C Bᵀ ∘ L (the forward's weights):
 * <pre>
 *   dX̃_j = Σ_k W[k][j]·ĝ_k + lend[j]·G'·B_j                 (Wᵀ Ĝ + diag(lend)·B G'ᵀ)
 *   dB_j = Σ_k V[k][j]·C_k + lend[j]·G'ᵀ·X̃_j                (Vᵀ C + diag(lend)·X̃ G')
 *   dC_k = Σ_j V[k][j]·B_j + cin[k]·Sᵀ·ĝ_k                   (V B + diag(cin)·Ĝ S)
 *   dS   = Σ_k cin[k]·ĝ_k⊗C_k + cin[ℓ−1]·G'                   (Ĝᵀ diag(cin) C + cin[ℓ−1]·G': the G' of the chunk before)
 *   dx_j = Δ_j·dX̃_j + D·ĝ_j,    dΔ_j = x_j·dX̃_j + A·ψ_j,    dA = Σ_j Δ_j·ψ_j
 * </pre>
 * where ψ_j = ∂L/∂(Δ_j·A), the gradient of the log of the step factor a_j. Every decay is a product of the a's, so
 * ψ_j sums the loss terms whose decay contains a_j, each an elementwise product already at hand:
 * <pre>
 *   ψ_j = Σ_{k ≥ j} Σ_{i &lt; j} T[k][i]   (T = M ∘ W: the terms of Y_diag; the rectangle k ≥ j > i)
 *       + Σ_{k ≥ j} cin[k]·ĝ_k·(S·C_k)  (Y_off)
 *       + cin[ℓ−1]·⟨G', S⟩ + Σ_{i &lt; j} lend[i]·X̃_i·(G'·B_i)   (the state handed on)
 * </pre>
 * These are the segment-sum gradients of the SSD paper written without the exp(cumsum) form: nothing is a difference
 * of large sums (the diagonal T[k][k] and the last position's own input never enter), so when a step forgets
 * everything (a = 0) its ψ is exactly 0, as in the sequential adjoint.
 *
 * <p>Structure: a task is (sequence, group, slice of the group's heads) as in the forward. The forward kept each
 * chunk's incoming state (P×N per head and chunk, like the sequential backward's checkpoints) and step factors
 * ({@link ChunkStates}); the backward walks the chunks from the end, and per chunk builds the group's C, B and C Bᵀ
 * once, then per head computes the products above with {@link ChunkedScan#gemm} and {@link #gemmT} (a transposed left operand), so again almost all work
 * is small dense products. States are kept P×N here (rows of N, padded to whole vectors). dB and dC are summed over the
 * task's heads in the chunk's buffers and written once per group (per slice of heads when a group is split between
 * tasks, those partial sums then added); the per-head sums (dA, dD, d dtBias) are added in a fixed order, as in {@link
 * SelectiveScanCpu#backward}. Results are deterministic.
 */
final class ChunkedScanBackward {
    private ChunkedScanBackward() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int Q = ChunkedScan.Q;

    /** Off only to compare with the sequential backward in a benchmark harness. */
    static boolean enabled = true;

    static boolean applies(ScanProblem p) { return enabled && ChunkedScan.applies(p); }

    private static int roundUp(int v, int m) { return (v + m - 1) / m * m; }

    /**
     * Where the results go: the incoming gradients (contiguous F32) and the outputs, F32; dx, ddt, dz, dB and dC as rows
     * over (batch, position) at {@code xxRows.base + row·xxRows.stride} (contiguous, or parts of the gradient of the
     * projection their inputs were cut from), the others contiguous.
     */
    private record Out(MemorySegment dy, long dyOff, MemorySegment dFinal, long dFinalOff, MemorySegment dx, SelectiveScanCpu.Rows dxRows,
                       MemorySegment ddt, SelectiveScanCpu.Rows ddtRows, MemorySegment dz, SelectiveScanCpu.Rows dzRows, MemorySegment dInit,
                       MemorySegment db,
                       SelectiveScanCpu.Rows dbRows, MemorySegment dc, SelectiveScanCpu.Rows dcRows, float[] dA, float[] dD, float[] dBias) {}

    /** How many tasks share each (sequence, group)'s heads: enough tasks for twice the CPU pool's threads. */
    static int slicesPerGroup(ScanProblem p) {
        int units = p.sequences() * p.groups;
        return Math.min(p.headsPerGroup(), Math.max(1, (2 * KernelSupport.cpuThreads() + units - 1) / units));
    }

    /** The gradients, from the forward's {@code kept} states and step factors. */
    static Tensor[] backward(ScanProblem p, Tensor dyIn, Tensor dFinalIn, ChunkStates kept) {
        java.util.Objects.requireNonNull(kept, "the chunked backward needs the chunked forward's kept states");
        SelectiveScanCpu.Raw in = new SelectiveScanCpu.Raw(p);
        int H = p.heads, S = p.sequences();
        Tensor dy = dyIn.to(DType.F32).contiguous();
        Tensor dFinal = dFinalIn == null ? null : dFinalIn.to(DType.F32).contiguous();
        Tensor dx = SelectiveScanCpu.gradientOut(X, p.yShape()), ddt = SelectiveScanCpu.gradientOut(DT, p.batch, p.length, H);
        Tensor dz = p.has(Z) ? SelectiveScanCpu.gradientOut(Z, p.yShape()) : null;
        Tensor dInit = p.has(INIT) ? SelectiveScanCpu.alloc(p.stateShape()) : null;
        int hpg = p.headsPerGroup(), units = S * p.groups, slices = slicesPerGroup(p);
        int perSlice = (hpg + slices - 1) / slices;
        // dB and dC summed over the heads of each task: one slice per group writes [B,L,G,N] directly, else one
        // partial sum per slice, added below
        int[] groupShape = {p.batch, p.length, p.groups, p.stateSize};
        int[] partShape = slices == 1 ? groupShape : new int[] {slices, p.batch, p.length, p.groups, p.stateSize};
        // one slice per group writes every row of dB and dC (into the runtime's destination when it offers one); else
        // zeroed partial sums: a slice past the group's last head runs no task and leaves its rows unwritten
        Tensor dbPart = slices == 1 ? SelectiveScanCpu.gradientOut(BM, groupShape) : SelectiveScanCpu.allocZeroed(partShape);
        Tensor dcPart = slices == 1 ? SelectiveScanCpu.gradientOut(CM, groupShape) : SelectiveScanCpu.allocZeroed(partShape);
        Out out = new Out(SelectiveScanCpu.mem(dy), KernelSupport.offset(dy),
                dFinal == null ? null : SelectiveScanCpu.mem(dFinal), dFinal == null ? 0 : KernelSupport.offset(dFinal),
                SelectiveScanCpu.mem(dx), SelectiveScanCpu.Rows.of(dx, 2), SelectiveScanCpu.mem(ddt), SelectiveScanCpu.Rows.of(ddt, 2),
                dz == null ? null : SelectiveScanCpu.mem(dz), dz == null ? null : SelectiveScanCpu.Rows.of(dz, 2),
                dInit == null ? null : SelectiveScanCpu.mem(dInit),
                SelectiveScanCpu.mem(dbPart), SelectiveScanCpu.Rows.of(dbPart, partShape.length - 2),
                SelectiveScanCpu.mem(dcPart), SelectiveScanCpu.Rows.of(dcPart, partShape.length - 2),
                new float[S * H], new float[S * H], new float[S * H]);
        KernelSupport.parallelFor((long) units * slices, 1, (lo, hi) -> {
            Work w = new Work(p, in, out, perSlice, kept);
            for (long task = lo; task < hi; task++) {
                int unit = (int) (task / slices), slice = (int) (task % slices);
                int s = unit / p.groups, g = unit % p.groups;
                int h0 = g * hpg + slice * perSlice, h1 = Math.min((g + 1) * hpg, h0 + perSlice);
                if (h0 < h1) w.run(s, g, h0, h1, (long) slice * p.batch * p.length);
            }
        });
        Tensor db = slices == 1 ? dbPart : dbPart.sum(0), dc = slices == 1 ? dcPart : dcPart.sum(0);
        return SelectiveScanCpu.gradients(p, dx, ddt, dz, dInit, db, dc, out.dA, out.dD, out.dBias);
    }

    /** One thread's buffers: one chunk of one group, one head's products, and the task's states and adjoints. */
    private static final class Work {
        final ScanProblem p;
        final SelectiveScanCpu.Raw in;
        final Out out;
        final ChunkStates kept;
        final int P, N, G, H, Pp, Nv, ss, vl;
        /** The group's C and B (Q rows of stride Nv), Bᵀ (Nv rows of stride Q) and C Bᵀ (Q×Q, lower triangle). */
        final float[] cm, bm, bt, cb;
        /** One head's rows: x, X̃ = Δ·x, Ĝ, dy, z and σ(z) (Q rows of stride Pp), X̃ᵀ (Pp rows of stride Q). */
        final float[] xr, xs, gh, dyb, zb, sb, xst;
        /** M, then V = M ∘ L in place; W = C Bᵀ ∘ L (Q×Q, lower; zero above the diagonal inside each block of 4 rows). */
        final float[] mm, w;
        /** T = M ∘ W (Q×Q, lower) and the running column sums of T from the chunk's last row up, for ψ. */
        final float[] tt, colSums;
        /**
         * dX̃ (Q×Pp); dB and dC (Q×Nv) of one head and summed over the task's heads; cin ∘ C (Q×Nv); Y (Q×Pp); G'ᵀ and
         * Sᵀ (Nv×Pp).
         */
        final float[] dxt, db, dc, dbSum, dcSum, cs, yb, gqt, sinT;
        final float[] step, cin, delta, deriv, lrow, psi, dxDelta, lv, uc;
        /** The task's adjoints G' (P×Nv each, rows of stride Nv, Pp rows). */
        final float[] adj;
        final float[] accA, accD, accBias;
        /**
         * The chunk's rows for the task's heads, read or written in one piece per row (see {@link ChunkedScan}): x, z and
         * dy in; dx, ddt and dz out.
         */
        final float[] xRows, zRows, dyRows, dxRows, ddtRows, dzRows;

        Work(ScanProblem p, SelectiveScanCpu.Raw in, Out out, int heads, ChunkStates kept) {
            this.p = p;
            this.in = in;
            this.out = out;
            this.kept = kept;
            P = p.headDim; N = p.stateSize; G = p.groups; H = p.heads;
            vl = F.length();
            Pp = roundUp(P, vl);
            Nv = roundUp(N, vl);
            ss = Pp * Nv;
            cm = new float[Q * Nv]; bm = new float[Q * Nv]; bt = new float[Nv * Q]; cb = new float[Q * Q];
            xr = new float[Q * Pp]; xs = new float[Q * Pp]; gh = new float[Q * Pp];
            dyb = new float[Q * Pp]; zb = new float[Q * Pp]; sb = new float[Q * Pp];
            xst = new float[Pp * Q];
            mm = new float[Q * Q]; w = new float[Q * Q]; tt = new float[Q * Q]; colSums = new float[Q];
            dxt = new float[Q * Pp]; yb = new float[Q * Pp];
            db = new float[Q * Nv]; dc = new float[Q * Nv]; dbSum = new float[Q * Nv]; dcSum = new float[Q * Nv]; cs = new float[Q * Nv];
            gqt = new float[Nv * Pp]; sinT = new float[Nv * Pp];
            step = new float[Q]; cin = new float[Q]; delta = new float[Q]; deriv = new float[Q]; lrow = new float[Q];
            psi = new float[Q]; dxDelta = new float[Q]; lv = new float[Q]; uc = new float[Q];
            adj = new float[heads * ss];
            accA = new float[heads]; accD = new float[heads]; accBias = new float[heads];
            xRows = new float[Q * heads * P]; dyRows = new float[Q * heads * P];
            zRows = p.has(Z) ? new float[Q * heads * P] : null;
            dzRows = p.has(Z) ? new float[Q * heads * P] : null;
            dxRows = new float[Q * heads * P]; ddtRows = new float[Q * heads];
        }

        /** Heads [h0, h1) of group g in sequence s; dB and dC go to rows partRow0 + (batch row) of the partial sums. */
        void run(int s, int g, int h0, int h1, long partRow0) {
            int start = p.seqStart[s], end = p.seqEnd[s], chunks = (end - start + Q - 1) / Q, nh = h1 - h0;
            long batchRow = (long) p.seqBatch[s] * p.length;
            // Chunks from the end, carrying G' backwards; the states entering them and their step factors are the forward's.
            for (int h = h0; h < h1; h++) {
                int o = (h - h0) * ss;
                Arrays.fill(adj, o, o + ss, 0f);
                if (out.dFinal != null) {
                    long base = out.dFinalOff + ((long) s * H + h) * P * N;
                    for (int q = 0; q < P; q++) {
                        MemorySegment.copy(out.dFinal, ValueLayout.JAVA_FLOAT, (base + (long) q * N) * 4, adj, o + q * Nv, N);
                    }
                }
                accA[h - h0] = accD[h - h0] = accBias[h - h0] = 0;
            }
            for (int c = chunks - 1; c >= 0; c--) {
                int c0 = start + c * Q, len = Math.min(Q, end - c0);
                loadGroup(batchRow + c0, len, g);
                Arrays.fill(dbSum, 0f);
                Arrays.fill(dcSum, 0f);
                loadRows(batchRow + c0, len, h0, nh);
                for (int h = h0; h < h1; h++) chunk(len, h, h - h0, nh, kept.states[s * H + h], c * ss, kept.steps[s * H + h], c * 4 * Q);
                storeRows(batchRow + c0, len, h0, nh);
                for (int j = 0; j < len; j++) {
                    long r = partRow0 + batchRow + c0 + j;
                    SelectiveScanCpu.write(dbSum, j * Nv, out.db, out.dbRows.at(r) + (long) g * N, N);
                    SelectiveScanCpu.write(dcSum, j * Nv, out.dc, out.dcRows.at(r) + (long) g * N, N);
                }
            }
            for (int h = h0; h < h1; h++) {
                int i = h - h0, task = s * H + h;
                if (out.dInit != null) {
                    long base = ((long) s * H + h) * P * N;
                    for (int q = 0; q < P; q++) SelectiveScanCpu.write(adj, i * ss + q * Nv, out.dInit, base + (long) q * N, N);
                }
                out.dA[task] = accA[i];
                out.dD[task] = accD[i];
                out.dBias[task] = accBias[i];
            }
        }

        /** The group's B, C, Bᵀ and C Bᵀ for rows [row0, row0 + len); rows past len are zero. */
        private void loadGroup(long row0, int len, int g) {
            Arrays.fill(bm, len * Nv, Q * Nv, 0f);
            for (int i = 0; i < len; i++) in.read(BM, in.at(BM, row0 + i, (long) g * N), bm, i * Nv, N);
            Arrays.fill(cm, len * Nv, Q * Nv, 0f);
            if (len < Q) Arrays.fill(bt, 0f);
            for (int i = 0; i < len; i++) {
                in.read(CM, in.at(CM, row0 + i, (long) g * N), cm, i * Nv, N);
                for (int n = 0; n < N; n++) bt[n * Q + i] = bm[i * Nv + n];
            }
            for (int i0 = 0; i0 < roundUp(len, 4); i0 += 4) {
                ChunkedScan.gemm(cm, i0 * Nv, Nv, bt, 0, Q, 0, N, cb, i0 * Q, Q, roundUp(i0 + 4, vl), false);
            }
        }

        /** Rows [row0, row0 + len) of x, dy and z for heads [h0, h0 + nh). */
        private void loadRows(long row0, int len, int h0, int nh) {
            int n = nh * P;
            for (int i = 0; i < len; i++) {
                long r = row0 + i;
                in.read(X, in.at(X, r, (long) h0 * P), xRows, i * n, n);
                MemorySegment.copy(out.dy, ValueLayout.JAVA_FLOAT, (out.dyOff + (r * H + h0) * P) * 4, dyRows, i * n, n);
                if (zRows != null) in.read(Z, in.at(Z, r, (long) h0 * P), zRows, i * n, n);
            }
        }

        /** dx, ddt and dz of heads [h0, h0 + nh) for rows [row0, row0 + len), from the chunk's row buffers. */
        private void storeRows(long row0, int len, int h0, int nh) {
            int n = nh * P;
            for (int i = 0; i < len; i++) {
                long r = row0 + i;
                SelectiveScanCpu.write(dxRows, i * n, out.dx, out.dxRows.at(r) + (long) h0 * P, n);
                SelectiveScanCpu.write(ddtRows, i * nh, out.ddt, out.ddtRows.at(r) + h0, nh);
                if (dzRows != null) SelectiveScanCpu.write(dzRows, i * n, out.dz, out.dzRows.at(r) + (long) h0 * P, n);
            }
        }

        /**
         * Head h's rows (the task's hi-th of nh), from the row buffers: x, X̃ = Δ·x, dy and z; and the chunk's a_i, cin,
         * Δ and dΔ/dv from the forward's (f[at ..], see {@link ChunkStates}).
         */
        private void loadHead(int len, int hi, int nh, float[] f, int at) {
            if (len < Q) {
                Arrays.fill(xs, len * Pp, Q * Pp, 0f);
                Arrays.fill(xr, len * Pp, Q * Pp, 0f);
                Arrays.fill(gh, len * Pp, Q * Pp, 0f);
            }
            System.arraycopy(f, at, step, 0, len);
            System.arraycopy(f, at + Q, cin, 0, len);
            System.arraycopy(f, at + 2 * Q, delta, 0, len);
            System.arraycopy(f, at + 3 * Q, deriv, 0, len);
            for (int i = 0; i < len; i++) {
                int ri = (i * nh + hi) * P; // head h's part of row i in the row buffers
                System.arraycopy(xRows, ri, xr, i * Pp, P);
                FloatVector dv = FloatVector.broadcast(F, delta[i]);
                for (int k = i * Pp, e = k + Pp; k < e; k += vl) FloatVector.fromArray(F, xr, k).mul(dv).intoArray(xs, k);
                if (p.has(Z)) {
                    System.arraycopy(dyRows, ri, dyb, i * Pp, P);
                    System.arraycopy(zRows, ri, zb, i * Pp, P);
                    for (int k = i * Pp, e = k + Pp; k < e; k += vl) { // σ(z) kept for SiLU′ in dz; ĝ = dy·z·σ(z)
                        FloatVector zv = FloatVector.fromArray(F, zb, k);
                        FloatVector sv = FloatVector.broadcast(F, 1f).div(VectorMath.exp(zv.neg()).add(1f));
                        sv.intoArray(sb, k);
                        FloatVector.fromArray(F, dyb, k).mul(zv).mul(sv).intoArray(gh, k);
                    }
                } else {
                    System.arraycopy(dyRows, ri, gh, i * Pp, P);
                }
            }
        }

        /**
         * The backward of one chunk of head h (the task's i-th of nh), given the state entering it (saved[sin ..]) and its
         * step factors (f[stepsAt ..]): reads and updates the adjoint at adj[i·ss ..], leaves dx, ddt and dz in the row
         * buffers.
         */
        private void chunk(int len, int h, int i, int nh, float[] saved, int sin, float[] f, int stepsAt) {
            int rows = roundUp(len, 4), ga = i * ss;
            loadHead(len, i, nh, f, stepsAt);
            // M = Ĝ X̃ᵀ, the lower triangle by blocks of four rows
            transpose(xs, Pp, xst, Q, Q, P);
            for (int k0 = 0; k0 < rows; k0 += 4) ChunkedScan.gemm(gh, k0 * Pp, Pp, xst, 0, Q, 0, P, mm, k0 * Q, Q, roundUp(k0 + 4, vl), false);
            // Row by row: L[k][·] = a_k·L[k−1][·], W = C Bᵀ ∘ L, T = M ∘ W, V = M ∘ L in place of M, over whole vectors
            // of columns (those past k hold L's zeros, so W's and V's are zero too)
            Arrays.fill(lrow, 0f);
            for (int k = 0; k < len; k++) {
                ChunkedScan.decayRow(lrow, step[k], k);
                for (int r = k * Q, j = 0, cols = roundUp(k + 1, vl); j < cols; j += vl) {
                    FloatVector l = FloatVector.fromArray(F, lrow, j), m = FloatVector.fromArray(F, mm, r + j);
                    FloatVector wv = FloatVector.fromArray(F, cb, r + j).mul(l);
                    wv.intoArray(w, r + j);
                    m.mul(wv).intoArray(tt, r + j);
                    m.mul(l).intoArray(mm, r + j);
                }
            }
            for (int k = len; k < rows; k++) {
                Arrays.fill(w, k * Q, k * Q + rows, 0f);
                Arrays.fill(mm, k * Q, k * Q + rows, 0f);
            }
            // ψ's Y_diag part, ψ_j = Σ_{i<j} Σ_{k≥j} T[k][i]: the column sums of T from the last row up to row j, summed
            // over the columns before j (T's diagonal never enters)
            Arrays.fill(colSums, 0f);
            for (int j = len - 1; j >= 0; j--) {
                int r = j * Q, full = j / vl * vl;
                FloatVector sum = FloatVector.zero(F);
                for (int col = 0; col < full; col += vl) {
                    FloatVector c = FloatVector.fromArray(F, colSums, col).add(FloatVector.fromArray(F, tt, r + col));
                    c.intoArray(colSums, col);
                    sum = sum.add(c);
                }
                if (full < j) {
                    VectorMask<Float> before = F.indexInRange(0, j - full);
                    FloatVector c = FloatVector.fromArray(F, colSums, full).add(FloatVector.fromArray(F, tt, r + full, before));
                    c.intoArray(colSums, full);
                    sum = sum.add(c, before);
                }
                psi[j] = Lanes.sum(sum);
            }
            float total = cin[len - 1];
            for (int k = 0; k < rows; k++) ChunkedScan.scaled(cm, k * Nv, cs, k * Nv, Nv, k < len ? cin[k] : 0);
            float dSkip = in.dSkip[h];
            // The gate: ŷ = Y + D·x with Y = W X̃ + (cin ∘ C) Sᵀ, as in the forward
            if (p.has(Z)) {
                transpose(saved, sin, Nv, sinT, Pp, P, N);
                for (int k0 = 0; k0 < rows; k0 += 4) {
                    ChunkedScan.gemm(cs, k0 * Nv, Nv, sinT, 0, Pp, 0, N, yb, k0 * Pp, Pp, Pp, false);
                    ChunkedScan.gemm(w, k0 * Q, Q, xs, 0, Pp, 0, Math.min(k0 + 4, len), yb, k0 * Pp, Pp, Pp, true);
                }
                FloatVector dv = FloatVector.broadcast(F, dSkip);
                for (int k = 0; k < len; k++) { // dz = dy·ŷ·SiLU′(z), SiLU′(z) = σ(z)·(1 + z·(1 − σ(z)))
                    int o = k * Pp;
                    for (int q = o, e = o + Pp; q < e; q += vl) {
                        FloatVector yhat = FloatVector.fromArray(F, xr, q).fma(dv, FloatVector.fromArray(F, yb, q));
                        FloatVector zv = FloatVector.fromArray(F, zb, q), sv = FloatVector.fromArray(F, sb, q);
                        FloatVector d1 = zv.mul(sv.neg().add(1f)).add(1f).mul(sv);
                        FloatVector.fromArray(F, dyb, q).mul(yhat).mul(d1).intoArray(yb, q);
                    }
                    System.arraycopy(yb, o, dzRows, (k * nh + i) * P, P);
                }
            }
            // dX̃ = diag(lend)·B G'ᵀ + Wᵀ Ĝ;  dx = Δ·dX̃ + D·ĝ;  x·dX̃ is dΔ's input part
            transpose(adj, ga, Nv, gqt, Pp, P, N);
            for (int j0 = 0; j0 < rows; j0 += 4) ChunkedScan.gemm(bm, j0 * Nv, Nv, gqt, 0, Pp, 0, N, dxt, j0 * Pp, Pp, Pp, false);
            for (int j = 0; j < len; j++) scaleRow(dxt, j * Pp, Pp, lrow[j]);
            for (int j0 = 0; j0 < rows; j0 += 4) gemmT(w, j0, Q, gh, 0, Pp, j0, len, dxt, j0 * Pp, Pp, Pp, true);
            FloatVector dDv = FloatVector.zero(F), skip = FloatVector.broadcast(F, dSkip);
            for (int j = 0; j < len; j++) { // padding columns are zero in x, Ĝ and dX̃
                int o = j * Pp;
                FloatVector d = FloatVector.broadcast(F, delta[j]), xd = FloatVector.zero(F);
                for (int q = o, e = o + Pp; q < e; q += vl) {
                    FloatVector gx = FloatVector.fromArray(F, dxt, q), x = FloatVector.fromArray(F, xr, q), gy = FloatVector.fromArray(F, gh, q);
                    xd = x.fma(gx, xd);
                    dDv = gy.fma(x, dDv);
                    gx.fma(d, gy.mul(skip)).intoArray(dxt, q);
                }
                dxDelta[j] = Lanes.sum(xd);
                System.arraycopy(dxt, o, dxRows, (j * nh + i) * P, P);
            }
            float dD = Lanes.sum(dDv);
            // dB = diag(lend)·X̃ G' + Vᵀ C; lv[j] = lend[j]·X̃_j·(G'·B_j)
            for (int j0 = 0; j0 < rows; j0 += 4) ChunkedScan.gemm(xs, j0 * Pp, Pp, adj, ga, Nv, 0, P, db, j0 * Nv, Nv, Nv, false);
            for (int j = 0; j < len; j++) {
                scaleRow(db, j * Nv, Nv, lrow[j]);
                lv[j] = dot(db, j * Nv, bm, j * Nv, N);
            }
            for (int j0 = 0; j0 < rows; j0 += 4) gemmT(mm, j0, Q, cm, 0, Nv, j0, len, db, j0 * Nv, Nv, Nv, true);
            // dC = diag(cin)·Ĝ S + V B; uc[k] = cin[k]·ĝ_k·(S·C_k)
            for (int k0 = 0; k0 < rows; k0 += 4) ChunkedScan.gemm(gh, k0 * Pp, Pp, saved, sin, Nv, 0, P, dc, k0 * Nv, Nv, Nv, false);
            for (int k = 0; k < len; k++) {
                scaleRow(dc, k * Nv, Nv, cin[k]);
                uc[k] = dot(dc, k * Nv, cm, k * Nv, N);
            }
            for (int k0 = 0; k0 < rows; k0 += 4) ChunkedScan.gemm(mm, k0 * Q, Q, bm, 0, Nv, 0, Math.min(k0 + 4, len), dc, k0 * Nv, Nv, Nv, true);
            addTo(db, dbSum, len * Nv);
            addTo(dc, dcSum, len * Nv);
            // ψ_j = (Y_diag part, in psi) + Σ_{k≥j} uc[k] + cin[ℓ−1]·⟨G', S⟩ + Σ_{i<j} lv[i]
            float carried = total * dot(adj, ga, saved, sin, ss);
            float tail = 0, head = 0;
            for (int k = len - 1; k >= 0; k--) {
                tail += uc[k];
                psi[k] += tail + carried;
            }
            float aH = in.a[h], dA = 0, dBias = 0;
            for (int j = 0; j < len; j++) {
                float ps = psi[j] + head;
                head += lv[j];
                float dDelta = dxDelta[j] + aH * ps;
                dA += delta[j] * ps;
                float dPre = dDelta * deriv[j];
                dBias += dPre;
                ddtRows[j * nh + i] = dPre;
            }
            accA[i] += dA;
            accD[i] += dD;
            accBias[i] += dBias;
            // G' of the chunk before: cin[ℓ−1]·G' + Ĝᵀ (cin ∘ C)
            scaleRow(adj, ga, ss, total);
            for (int q0 = 0; q0 < Pp; q0 += 4) gemmT(gh, q0, Pp, cs, 0, Nv, 0, len, adj, ga + q0 * Nv, Nv, Nv, true);
        }
    }

    /** dst[c·dstStride + r] = src[r·srcStride + c] for r &lt; rows, c &lt; cols. */
    private static void transpose(float[] src, int srcStride, float[] dst, int dstStride, int rows, int cols) {
        transpose(src, 0, srcStride, dst, dstStride, rows, cols);
    }

    private static void transpose(float[] src, int srcOff, int srcStride, float[] dst, int dstStride, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int s = srcOff + r * srcStride;
            for (int c = 0; c < cols; c++) dst[c * dstStride + r] = src[s + c];
        }
    }

    /** sum[0 .. n) += v[0 .. n), n a whole number of vectors. */
    private static void addTo(float[] v, float[] sum, int n) {
        for (int k = 0; k < n; k += F.length()) FloatVector.fromArray(F, v, k).add(FloatVector.fromArray(F, sum, k)).intoArray(sum, k);
    }

    /** v[off .. off + n) *= f, n a whole number of vectors. */
    private static void scaleRow(float[] v, int off, int n, float f) {
        FloatVector fv = FloatVector.broadcast(F, f);
        for (int k = off, e = off + n; k < e; k += F.length()) FloatVector.fromArray(F, v, k).mul(fv).intoArray(v, k);
    }

    private static float dot(float[] u, int uOff, float[] v, int vOff, int n) {
        int vl = F.length(), bound = F.loopBound(n), k = 0;
        FloatVector acc = FloatVector.zero(F);
        for (; k < bound; k += vl) acc = FloatVector.fromArray(F, u, uOff + k).fma(FloatVector.fromArray(F, v, vOff + k), acc);
        float s = Lanes.sum(acc);
        for (; k < n; k++) s += u[uOff + k] * v[vOff + k];
        return s;
    }

    /**
     * out[r][c] (+)= Σ_{k0 ≤ k &lt; k1} a[aOff + k·aStride + r] · b[bOff + k·bStride + c] for the four rows r = 0..3
     * and columns c &lt; cols (a whole number of vectors): {@link ChunkedScan#gemm} with the left operand stored
     * transposed, so its four values for one k are adjacent.
     */
    static void gemmT(float[] a, int aOff, int aStride, float[] b, int bOff, int bStride, int k0, int k1,
                      float[] out, int oOff, int oStride, int cols, boolean accumulate) {
        int vl = F.length();
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
                int bk = bOff + k * bStride + c, ak = aOff + k * aStride;
                FloatVector b0 = FloatVector.fromArray(F, b, bk), b1 = FloatVector.fromArray(F, b, bk + vl);
                FloatVector b2 = FloatVector.fromArray(F, b, bk + 2 * vl), b3 = FloatVector.fromArray(F, b, bk + 3 * vl);
                FloatVector r = FloatVector.broadcast(F, a[ak]);
                s00 = r.fma(b0, s00); s01 = r.fma(b1, s01); s02 = r.fma(b2, s02); s03 = r.fma(b3, s03);
                r = FloatVector.broadcast(F, a[ak + 1]);
                s10 = r.fma(b0, s10); s11 = r.fma(b1, s11); s12 = r.fma(b2, s12); s13 = r.fma(b3, s13);
                r = FloatVector.broadcast(F, a[ak + 2]);
                s20 = r.fma(b0, s20); s21 = r.fma(b1, s21); s22 = r.fma(b2, s22); s23 = r.fma(b3, s23);
                r = FloatVector.broadcast(F, a[ak + 3]);
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
                int ak = aOff + k * aStride;
                FloatVector bv = FloatVector.fromArray(F, b, bOff + k * bStride + c);
                s0 = FloatVector.broadcast(F, a[ak]).fma(bv, s0);
                s1 = FloatVector.broadcast(F, a[ak + 1]).fma(bv, s1);
                s2 = FloatVector.broadcast(F, a[ak + 2]).fma(bv, s2);
                s3 = FloatVector.broadcast(F, a[ak + 3]).fma(bv, s3);
            }
            s0.intoArray(out, o0 + c); s1.intoArray(out, o1 + c); s2.intoArray(out, o2 + c); s3.intoArray(out, o3 + c);
        }
    }
}
