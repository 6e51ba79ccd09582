package dev.tessera.kernels.scan;

import dev.tessera.runtime.spi.Lanes;
import static dev.tessera.kernels.scan.ScanProblem.*;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast F32 CPU selective scan: a sequential scan over L with the head's P×N state resident in a {@code float[]}
 * (16 KiB at P = N = 64, so it stays in L1), one task per (sequence, head) on the shared pool. Each step is a rank-1
 * update S ← a·S + (Δx)⊗B fused with the read-out y = S·C, so the state is read and written once per position and
 * never leaves the cache. The forward keeps the state transposed (N×P, {@link #stepColumns}) so that y accumulates in
 * registers without horizontal sums; the backward works on P×N rows ({@link #stepRows}, {@link #adjointRows}).
 *
 * <p>Backward: a first pass replays the forward and keeps the state every {@link #CHECKPOINT} positions; then, chunk
 * by chunk from the end, the chunk's states are recomputed from its checkpoint and the adjoint G (see
 * {@link SelectiveScanReference}) runs backwards through them. Memory per task is O(P·N·(L/CHECKPOINT + CHECKPOINT)).
 * dB and dC are first written per head and summed over each group's heads afterwards, so no two tasks write the same
 * element; dA, dD and d dtBias are per-task partial sums added in a fixed order (deterministic results).
 *
 * <p>For a scalar A per head (Mamba-2) the forward runs {@link ChunkedScan} and the backward
 * {@link ChunkedScanBackward}, the chunked SSD form, instead; the sequential kernels here serve the per-state A of the
 * Mamba-1 form (and both directions when the chunked path is switched off).
 *
 * <p>Vectors live in local variables only: stored in arrays or fields they are boxed and the kernel is 40× slower.
 */
final class SelectiveScanCpu {
    private SelectiveScanCpu() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int CHECKPOINT = 64;

    /**
     * Raw access to the problem's F32 tensors: contiguous, or for the per-position inputs row-strided
     * ({@link ScanProblem#rowStrided}); index them with {@link #at}.
     */
    static final class Raw {
        final MemorySegment[] seg = new MemorySegment[COUNT];
        final long[] off = new long[COUNT];
        /** Elements between consecutive positions of each per-position input. */
        private final long[] rowStride = new long[COUNT];
        final float[] a, dtBias, dSkip;

        Raw(ScanProblem p) {
            for (int i = 0; i < COUNT; i++) {
                if (!p.has(i)) continue;
                seg[i] = KernelSupport.segment(p.t[i]);
                off[i] = KernelSupport.offset(p.t[i]);
                if (ScanProblem.perPosition(i)) rowStride[i] = p.rowStride(i);
            }
            a = p.t[A].toFloatArray();
            dtBias = p.has(DT_BIAS) ? p.t[DT_BIAS].toFloatArray() : new float[p.heads];
            dSkip = p.has(D_SKIP) ? p.t[D_SKIP].toFloatArray() : new float[p.heads];
        }

        /** The index (from the tensor's offset) of element {@code within} of position {@code row} of input i. */
        long at(int i, long row, long within) { return row * rowStride[i] + within; }

        void read(int i, long index, float[] dst, int n) {
            MemorySegment.copy(seg[i], ValueLayout.JAVA_FLOAT, (off[i] + index) * 4, dst, 0, n);
        }

        void read(int i, long index, float[] dst, int dstOff, int n) {
            MemorySegment.copy(seg[i], ValueLayout.JAVA_FLOAT, (off[i] + index) * 4, dst, dstOff, n);
        }

        float get(int i, long index) { return seg[i].getAtIndex(ValueLayout.JAVA_FLOAT, off[i] + index); }
    }

    static MemorySegment mem(Tensor t) { return KernelSupport.segment(t); }

    static void write(float[] src, int srcOff, MemorySegment dst, long index, int n) {
        MemorySegment.copy(src, srcOff, dst, ValueLayout.JAVA_FLOAT, index * 4, n);
    }

    static void write(float[] src, MemorySegment dst, long index, int n) {
        MemorySegment.copy(src, 0, dst, ValueLayout.JAVA_FLOAT, index * 4, n);
    }

    /** An F32 CPU tensor the kernel writes in full (uninitialised: no zero-fill pass; poisoned in the tests). */
    static Tensor alloc(int... shape) { return KernelSupport.allocateUninitialized(DType.F32, shape, dev.tessera.runtime.Device.cpu()); }

    /**
     * The tensor the gradient of input {@code input} (of this shape) is written into: the runtime's destination for
     * it when that is F32 on the CPU laid out as rows over (batch, position), else a fresh contiguous one.
     */
    static Tensor gradientOut(int input, int... shape) {
        Tensor d = ScanProblem.writeGradientsInPlace ? KernelSupport.gradientDestination(input) : null;
        if (d != null && d.dtype() == DType.F32 && d.device().isCpu() && java.util.Arrays.equals(d.shape(), shape)
                && KernelSupport.rowStride(d, 2) >= 0) {
            return d;
        }
        return alloc(shape);
    }

    /** Rows over the leading dimensions of an output: row r starts at element {@code base + r·stride} of its memory. */
    record Rows(long base, long stride) {
        static Rows of(Tensor t, int rowDims) { return new Rows(KernelSupport.offset(t), KernelSupport.rowStride(t, rowDims)); }

        long at(long row) { return base + row * stride; }
    }

    static Tensor allocZeroed(int... shape) { return KernelSupport.allocate(DType.F32, shape, dev.tessera.runtime.Device.cpu()); }

    // ------------------------------------------------------------------------------------------------ forward

    /** The forward; {@code keep} (for the chunked form only) receives what its backward would otherwise recompute. */
    static ScanResult forward(ScanProblem p, ChunkStates keep) {
        if (ChunkedScan.applies(p)) return ChunkedScan.forward(p, keep);
        Raw in = new Raw(p);
        Tensor y = alloc(p.yShape());
        Tensor fin = p.returnFinal ? alloc(p.stateShape()) : null;
        MemorySegment ys = mem(y), fs = fin == null ? null : mem(fin);
        int H = p.heads, P = p.headDim, N = p.stateSize;
        KernelSupport.parallelFor((long) p.sequences() * H, 1, (lo, hi) -> {
            float[] st = new float[N * P], rows = new float[P * N], x = new float[P], z = new float[P], yRow = new float[P];
            float[] b = new float[N], c = new float[N], decay = new float[N];
            for (long task = lo; task < hi; task++) {
                int s = (int) (task / H), h = (int) (task % H);
                loadInitial(p, in, s, h, rows, 0);
                transpose(rows, st, P, N);
                for (int t = p.seqStart[s]; t < p.seqEnd[s]; t++) {
                    long row = (long) p.seqBatch[s] * p.length + t;
                    long xi = (row * H + h) * P;
                    float delta = readStep(p, in, row, h, b, c, x, decay);
                    stepColumns(st, x, b, c, decay, delta, in.a[h], p.aPerState, P, N, yRow);
                    writeOutput(p, in, row, h, xi, x, z, yRow, ys);
                }
                if (fs != null) {
                    transpose(st, rows, N, P);
                    write(rows, fs, ((long) s * H + h) * P * N, P * N);
                }
            }
        });
        return new ScanResult(y, fin);
    }

    /**
     * One decoding step (length 1) that advances {@code state} [B,H,P,N] (F32, contiguous) in place and returns y:
     * each (row, head) reads its P×N state once, steps it with {@link #stepRows} (the recurrence in the state's own
     * layout, so no transposes and no final-state tensor) and writes it back. A decoding batch is small, so it runs
     * on the calling thread unless there are many states: handing dozens of tiny tasks to the pool cost more than
     * their arithmetic (a chunked forward of one position about five times more in all).
     */
    static Tensor step(ScanProblem p, Tensor state) {
        Raw in = new Raw(p);
        Tensor y = alloc(p.yShape());
        MemorySegment ys = mem(y), ss = mem(state);
        long so = KernelSupport.offset(state);
        int H = p.heads, P = p.headDim, N = p.stateSize, pn = P * N;
        KernelSupport.parallelFor((long) p.batch * H, Math.max(1, (1 << 16) / pn), (lo, hi) -> {
            float[] st = new float[pn], x = new float[P], z = new float[P], yRow = new float[P];
            float[] b = new float[N], c = new float[N], decay = new float[N];
            for (long task = lo; task < hi; task++) {
                int row = (int) (task / H), h = (int) (task % H);
                long at = (so + task * pn) * 4, xi = task * P;
                float delta = readStep(p, in, row, h, b, c, x, decay);
                MemorySegment.copy(ss, ValueLayout.JAVA_FLOAT, at, st, 0, pn);
                stepRows(st, 0, x, b, c, decay, delta, in.a[h], p.aPerState, P, N, yRow);
                MemorySegment.copy(st, 0, ss, ValueLayout.JAVA_FLOAT, at, pn);
                writeOutput(p, in, row, h, xi, x, z, yRow, ys);
            }
        });
        return y;
    }

    /** y = (⟨S, C⟩ + Dskip·x), gated by SiLU(z) when there is a z, of position row and head h, written at {@code xi} of the output. */
    private static void writeOutput(ScanProblem p, Raw in, long row, int h, long xi, float[] x, float[] z, float[] yRow, MemorySegment ys) {
        int P = p.headDim;
        float dd = in.dSkip[h];
        if (p.has(Z)) {
            in.read(Z, in.at(Z, row, (long) h * P), z, P);
            for (int q = 0; q < P; q++) yRow[q] = (yRow[q] + dd * x[q]) * silu(z[q]);
        } else {
            for (int q = 0; q < P; q++) yRow[q] += dd * x[q];
        }
        write(yRow, ys, xi, P);
    }

    /** dst[j·rows + i] = src[i·cols + j]: src is rows×cols, dst cols×rows. */
    private static void transpose(float[] src, float[] dst, int rows, int cols) {
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) dst[j * rows + i] = src[i * cols + j];
    }

    /**
     * The forward's step on the state stored transposed, Sᵀ[n·P + q]: for each state n, the column Sᵀ_n ← a_n·Sᵀ_n
     * + B_n·(Δx) is a vector over q, and y += C_n·Sᵀ_n accumulates in registers, blocks of four vectors of q at a
     * time. No horizontal sums (a per-row dot product over N would need P of them per position). Each element is
     * rounded exactly as in {@link #stepRows}, fma(B_n, Δx_q, S·a_n), so the backward's replay sees the same states.
     */
    private static void stepColumns(float[] st, float[] x, float[] b, float[] c, float[] decay, float delta, float aScalar,
                                    boolean perState, int P, int N, float[] y) {
        int vl = F.length(), bound = F.loopBound(P);
        float a = perState ? 0 : VectorMath.exp(delta * aScalar);
        int q = 0;
        for (; q + 4 * vl <= P; q += 4 * vl) {
            FloatVector d0 = FloatVector.fromArray(F, x, q).mul(delta), d1 = FloatVector.fromArray(F, x, q + vl).mul(delta);
            FloatVector d2 = FloatVector.fromArray(F, x, q + 2 * vl).mul(delta), d3 = FloatVector.fromArray(F, x, q + 3 * vl).mul(delta);
            FloatVector y0 = FloatVector.zero(F), y1 = FloatVector.zero(F), y2 = FloatVector.zero(F), y3 = FloatVector.zero(F);
            for (int n = 0; n < N; n++) {
                FloatVector an = FloatVector.broadcast(F, perState ? decay[n] : a);
                FloatVector bn = FloatVector.broadcast(F, b[n]), cn = FloatVector.broadcast(F, c[n]);
                int r = n * P + q;
                FloatVector s0 = bn.fma(d0, FloatVector.fromArray(F, st, r).mul(an));
                FloatVector s1 = bn.fma(d1, FloatVector.fromArray(F, st, r + vl).mul(an));
                FloatVector s2 = bn.fma(d2, FloatVector.fromArray(F, st, r + 2 * vl).mul(an));
                FloatVector s3 = bn.fma(d3, FloatVector.fromArray(F, st, r + 3 * vl).mul(an));
                s0.intoArray(st, r);
                s1.intoArray(st, r + vl);
                s2.intoArray(st, r + 2 * vl);
                s3.intoArray(st, r + 3 * vl);
                y0 = s0.fma(cn, y0);
                y1 = s1.fma(cn, y1);
                y2 = s2.fma(cn, y2);
                y3 = s3.fma(cn, y3);
            }
            y0.intoArray(y, q);
            y1.intoArray(y, q + vl);
            y2.intoArray(y, q + 2 * vl);
            y3.intoArray(y, q + 3 * vl);
        }
        for (; q < bound; q += vl) {
            FloatVector d0 = FloatVector.fromArray(F, x, q).mul(delta), y0 = FloatVector.zero(F);
            for (int n = 0; n < N; n++) {
                FloatVector an = FloatVector.broadcast(F, perState ? decay[n] : a);
                int r = n * P + q;
                FloatVector s0 = FloatVector.broadcast(F, b[n]).fma(d0, FloatVector.fromArray(F, st, r).mul(an));
                s0.intoArray(st, r);
                y0 = s0.fma(FloatVector.broadcast(F, c[n]), y0);
            }
            y0.intoArray(y, q);
        }
        for (; q < P; q++) {
            float xd = delta * x[q], yq = 0;
            for (int n = 0; n < N; n++) {
                float sn = Math.fma(b[n], xd, st[n * P + q] * (perState ? decay[n] : a));
                st[n * P + q] = sn;
                yq += sn * c[n];
            }
            y[q] = yq;
        }
    }

    /** Copies sequence s's initial state of head h (or zeros) into st[base, base + P·N). */
    static void loadInitial(ScanProblem p, Raw in, int s, int h, float[] st, int base) {
        int pn = p.headDim * p.stateSize;
        if (p.has(INIT)) MemorySegment.copy(in.seg[INIT], ValueLayout.JAVA_FLOAT, (in.off[INIT] + ((long) s * p.heads + h) * pn) * 4, st, base, pn);
        else java.util.Arrays.fill(st, base, base + pn, 0f);
    }

    /** Reads row {@code row}'s B, C and x for head h, fills the per-state decay when A is [H,N], and returns Δ. */
    private static float readStep(ScanProblem p, Raw in, long row, int h, float[] b, float[] c, float[] x, float[] decay) {
        int H = p.heads, N = p.stateSize, g = h / p.headsPerGroup();
        float delta = StepSizeF32.of(in.get(DT, in.at(DT, row, h)) + in.dtBias[h], p.softplus);
        in.read(BM, in.at(BM, row, (long) g * N), b, N);
        in.read(CM, in.at(CM, row, (long) g * N), c, N);
        in.read(X, in.at(X, row, (long) h * p.headDim), x, p.headDim);
        if (p.aPerState) for (int n = 0; n < N; n++) decay[n] = VectorMath.exp(delta * in.a[h * N + n]);
        return delta;
    }

    /**
     * One position for every row q of the state at st[base + q·N ..]: S_q ← a ⊙ S_q + (Δ·x_q)·B, and y_q = ⟨S_q, C⟩
     * (written to {@code y} when it is not null). a is exp(Δ·A) for a scalar A, else the {@code decay} row.
     */
    private static void stepRows(float[] st, int base, float[] x, float[] b, float[] c, float[] decay, float delta, float aScalar,
                                 boolean perState, int P, int N, float[] y) {
        int bound = F.loopBound(N);
        if (!perState) {
            float a = VectorMath.exp(delta * aScalar);
            FloatVector av = FloatVector.broadcast(F, a);
            for (int q = 0; q < P; q++) {
                float xd = delta * x[q];
                FloatVector xv = FloatVector.broadcast(F, xd);
                FloatVector acc = FloatVector.zero(F);
                int r = base + q * N, n = 0;
                for (; n < bound; n += F.length()) {
                    FloatVector s = FloatVector.fromArray(F, st, r + n).mul(av);
                    s = FloatVector.fromArray(F, b, n).fma(xv, s);
                    s.intoArray(st, r + n);
                    acc = s.fma(FloatVector.fromArray(F, c, n), acc);
                }
                float yq = Lanes.sum(acc);
                for (; n < N; n++) {
                    float s = Math.fma(b[n], xd, st[r + n] * a);
                    st[r + n] = s;
                    yq += s * c[n];
                }
                if (y != null) y[q] = yq;
            }
        } else {
            for (int q = 0; q < P; q++) {
                float xd = delta * x[q];
                FloatVector xv = FloatVector.broadcast(F, xd);
                FloatVector acc = FloatVector.zero(F);
                int r = base + q * N, n = 0;
                for (; n < bound; n += F.length()) {
                    FloatVector s = FloatVector.fromArray(F, st, r + n).mul(FloatVector.fromArray(F, decay, n));
                    s = FloatVector.fromArray(F, b, n).fma(xv, s);
                    s.intoArray(st, r + n);
                    acc = s.fma(FloatVector.fromArray(F, c, n), acc);
                }
                float yq = Lanes.sum(acc);
                for (; n < N; n++) {
                    float s = Math.fma(b[n], xd, st[r + n] * decay[n]);
                    st[r + n] = s;
                    yq += s * c[n];
                }
                if (y != null) y[q] = yq;
            }
        }
    }

    static float silu(float z) { return z / (1 + (float) Math.exp(-z)); }

    static float siluDerivative(float z) {
        float s = 1 / (1 + (float) Math.exp(-z));
        return s * (1 + z * (1 - s));
    }

    // ------------------------------------------------------------------------------------------------ backward

    /**
     * The gradients: by the chunked backward from what the chunked forward {@code kept} (see {@link ChunkStates}), else
     * by the sequential one, which recomputes its states from checkpoints.
     */
    static Tensor[] backward(ScanProblem p, Tensor dyIn, Tensor dFinalIn, ChunkStates kept) {
        if (ChunkedScanBackward.applies(p)) return ChunkedScanBackward.backward(p, dyIn, dFinalIn, kept);
        Raw in = new Raw(p);
        int H = p.heads, P = p.headDim, N = p.stateSize, S = p.sequences(), na = p.aPerState ? N : 1;
        Tensor dy = dyIn.to(DType.F32).contiguous();
        Tensor dFinal = dFinalIn == null ? null : dFinalIn.to(DType.F32).contiguous();
        Tensor dx = alloc(p.yShape()), ddt = alloc(p.batch, p.length, H);
        Tensor dz = p.has(Z) ? alloc(p.yShape()) : null;
        Tensor dInit = p.has(INIT) ? alloc(p.stateShape()) : null;
        Tensor dbHead = alloc(p.batch, p.length, H, N), dcHead = alloc(p.batch, p.length, H, N);
        float[] dA = new float[S * H * na], dD = new float[S * H], dBias = new float[S * H];
        MemorySegment dyS = mem(dy);
        long dyO = KernelSupport.offset(dy), dfO = dFinal == null ? 0 : KernelSupport.offset(dFinal);
        MemorySegment dfS = dFinal == null ? null : mem(dFinal);
        MemorySegment dxS = mem(dx), ddtS = mem(ddt), dzS = dz == null ? null : mem(dz), diS = dInit == null ? null : mem(dInit);
        MemorySegment dbS = mem(dbHead), dcS = mem(dcHead);
        int pn = P * N;
        KernelSupport.parallelFor((long) S * H, 1, (lo, hi) -> {
            float[] x = new float[P], z = new float[P], g = new float[P], dxRow = new float[P], dzRow = new float[P];
            float[] b = new float[N], c = new float[N], decay = new float[N], db = new float[N], dc = new float[N], qa = new float[N];
            float[] adj = new float[pn], buf = new float[(CHECKPOINT + 1) * pn];
            for (long task = lo; task < hi; task++) {
                int s = (int) (task / H), h = (int) (task % H), start = p.seqStart[s], len = p.seqEnd[s] - start;
                long batchRow = (long) p.seqBatch[s] * p.length;
                int chunks = (len + CHECKPOINT - 1) / CHECKPOINT;
                // Pass 1: the state before each chunk.
                float[] ckpt = new float[Math.max(1, chunks) * pn];
                loadInitial(p, in, s, h, buf, 0);
                for (int k = 0; k < chunks; k++) {
                    System.arraycopy(buf, 0, ckpt, k * pn, pn);
                    for (int t = start + k * CHECKPOINT, e = Math.min(p.seqEnd[s], t + CHECKPOINT); t < e; t++) {
                        float delta = readStep(p, in, batchRow + t, h, b, c, x, decay);
                        stepRows(buf, 0, x, b, c, decay, delta, in.a[h], p.aPerState, P, N, null);
                    }
                }
                if (dfS != null) MemorySegment.copy(dfS, ValueLayout.JAVA_FLOAT, (dfO + task * pn) * 4, adj, 0, pn);
                else java.util.Arrays.fill(adj, 0f);
                float dSkip = in.dSkip[h], dDAcc = 0, dBiasAcc = 0;
                float[] dAAcc = new float[na];
                // Pass 2: chunks from the end; buf[j·PN ..] holds the state after the chunk's j-th position.
                for (int k = chunks - 1; k >= 0; k--) {
                    int c0 = start + k * CHECKPOINT, cl = Math.min(CHECKPOINT, p.seqEnd[s] - c0);
                    System.arraycopy(ckpt, k * pn, buf, 0, pn);
                    for (int j = 1; j <= cl; j++) {
                        System.arraycopy(buf, (j - 1) * pn, buf, j * pn, pn);
                        float delta = readStep(p, in, batchRow + c0 + j - 1, h, b, c, x, decay);
                        stepRows(buf, j * pn, x, b, c, decay, delta, in.a[h], p.aPerState, P, N, null);
                    }
                    for (int j = cl; j >= 1; j--) {
                        long row = batchRow + c0 + j - 1, xi = (row * H + h) * P;
                        float pre = in.get(DT, in.at(DT, row, h)) + in.dtBias[h];
                        float delta = readStep(p, in, row, h, b, c, x, decay);
                        MemorySegment.copy(dyS, ValueLayout.JAVA_FLOAT, (dyO + xi) * 4, g, 0, P);
                        if (p.has(Z)) {
                            in.read(Z, in.at(Z, row, (long) h * P), z, P);
                            for (int q = 0; q < P; q++) {
                                float yq = dot(buf, j * pn + q * N, c, N) + dSkip * x[q];
                                dzRow[q] = g[q] * yq * siluDerivative(z[q]);
                                g[q] *= silu(z[q]);
                            }
                            write(dzRow, dzS, xi, P);
                        }
                        for (int q = 0; q < P; q++) dDAcc += g[q] * x[q];
                        float a = p.aPerState ? 0 : VectorMath.exp(delta * in.a[h]);
                        float dDelta = adjointRows(buf, j * pn, (j - 1) * pn, adj, x, g, b, c, decay, a, p.aPerState, delta, dSkip,
                                P, N, dxRow, db, dc, qa);
                        if (p.aPerState) {
                            for (int n = 0; n < N; n++) {
                                dDelta += in.a[h * N + n] * decay[n] * qa[n];
                                dAAcc[n] += delta * decay[n] * qa[n];
                            }
                        } else {
                            float qs = 0;
                            for (int n = 0; n < N; n++) qs += qa[n];
                            dDelta += in.a[h] * a * qs;
                            dAAcc[0] += delta * a * qs;
                        }
                        float dPre = dDelta * StepSizeF32.derivative(pre, p.softplus);
                        ddtS.setAtIndex(ValueLayout.JAVA_FLOAT, row * H + h, dPre);
                        dBiasAcc += dPre;
                        for (int n = 0; n < N; n++) db[n] *= delta;
                        write(dxRow, dxS, xi, P);
                        write(db, dbS, (row * H + h) * N, N);
                        write(dc, dcS, (row * H + h) * N, N);
                    }
                }
                if (diS != null) write(adj, diS, task * pn, pn);
                System.arraycopy(dAAcc, 0, dA, (int) task * na, na);
                dD[(int) task] = dDAcc;
                dBias[(int) task] = dBiasAcc;
            }
        });
        return gradients(p, dx, ddt, dz, dInit, dbHead, dcHead, dA, dD, dBias);
    }

    /**
     * The adjoint of one position for every row q: G_q += ĝ_q·C; dx_q = Δ·⟨G_q, B⟩ + D·ĝ_q; db += x_q·G_q (scaled by Δ
     * later); dc += ĝ_q·S_q; qa += G_q ⊙ S_{q,prev}; then G_q ← a ⊙ G_q. Returns Σ_q x_q·⟨G_q, B⟩, the part of dΔ that
     * comes through the input term (the decay part is added from qa by the caller).
     */
    private static float adjointRows(float[] st, int cur, int prev, float[] adj, float[] x, float[] gy, float[] b, float[] c,
                                     float[] decay, float a, boolean perState, float delta, float dSkip, int P, int N,
                                     float[] dxRow, float[] db, float[] dc, float[] qa) {
        java.util.Arrays.fill(db, 0f);
        java.util.Arrays.fill(dc, 0f);
        java.util.Arrays.fill(qa, 0f);
        int bound = F.loopBound(N);
        float dDelta = 0;
        FloatVector av = FloatVector.broadcast(F, a);
        for (int q = 0; q < P; q++) {
            FloatVector gv = FloatVector.broadcast(F, gy[q]), xv = FloatVector.broadcast(F, x[q]);
            FloatVector dxAcc = FloatVector.zero(F);
            int r = q * N, n = 0;
            for (; n < bound; n += F.length()) {
                FloatVector G = FloatVector.fromArray(F, c, n).fma(gv, FloatVector.fromArray(F, adj, r + n));
                dxAcc = G.fma(FloatVector.fromArray(F, b, n), dxAcc);
                G.fma(xv, FloatVector.fromArray(F, db, n)).intoArray(db, n);
                FloatVector.fromArray(F, st, cur + r + n).fma(gv, FloatVector.fromArray(F, dc, n)).intoArray(dc, n);
                G.fma(FloatVector.fromArray(F, st, prev + r + n), FloatVector.fromArray(F, qa, n)).intoArray(qa, n);
                FloatVector decayed = perState ? G.mul(FloatVector.fromArray(F, decay, n)) : G.mul(av);
                decayed.intoArray(adj, r + n);
            }
            float dxs = Lanes.sum(dxAcc);
            for (; n < N; n++) {
                float G = adj[r + n] + gy[q] * c[n];
                dxs += G * b[n];
                db[n] += G * x[q];
                dc[n] += gy[q] * st[cur + r + n];
                qa[n] += G * st[prev + r + n];
                adj[r + n] = G * (perState ? decay[n] : a);
            }
            dxRow[q] = delta * dxs + dSkip * gy[q];
            dDelta += x[q] * dxs;
        }
        return dDelta;
    }

    private static float dot(float[] u, int base, float[] v, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += u[base + i] * v[i];
        return s;
    }

    /** Sums the per-task partials in task order and the per-head dB, dC ([B,L,H,N], or already [B,L,G,N]) over each group's heads. */
    static Tensor[] gradients(ScanProblem p, Tensor dx, Tensor ddt, Tensor dz, Tensor dInit, Tensor dbHead, Tensor dcHead,
                                      float[] dA, float[] dD, float[] dBias) {
        int H = p.heads, na = p.aPerState ? p.stateSize : 1;
        float[] sumA = new float[H * na], sumD = new float[H], sumBias = new float[H];
        for (int s = 0; s < p.sequences(); s++) {
            for (int h = 0; h < H; h++) {
                for (int n = 0; n < na; n++) sumA[h * na + n] += dA[(s * H + h) * na + n];
                sumD[h] += dD[s * H + h];
                sumBias[h] += dBias[s * H + h];
            }
        }
        Tensor[] out = new Tensor[COUNT];
        out[X] = dx;
        out[DT] = ddt;
        out[A] = Tensor.of(sumA, p.t[A].shape());
        out[BM] = groupSum(p, dbHead);
        out[CM] = groupSum(p, dcHead);
        if (p.has(DT_BIAS)) out[DT_BIAS] = Tensor.of(sumBias, H);
        if (p.has(D_SKIP)) out[D_SKIP] = Tensor.of(sumD, H);
        out[Z] = dz;
        out[INIT] = dInit;
        return out;
    }

    private static Tensor groupSum(ScanProblem p, Tensor perHead) {
        if (p.groups == p.heads || perHead.size(2) == p.groups) return perHead; // already summed (the chunked backward)
        return perHead.reshape(p.batch, p.length, p.groups, p.headsPerGroup(), p.stateSize).sum(3);
    }
}
