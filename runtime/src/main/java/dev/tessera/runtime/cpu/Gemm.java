package dev.tessera.runtime.cpu;

import java.lang.foreign.MemorySegment;

/**
 * Dense matrix multiplication on the CPU: {@code C = A·B} or {@code C += A·B}.
 *
 * <p>All shapes are logical row-major: {@code A[m,k]}, {@code B[k,n]}, {@code C[m,n]}. Offsets and strides are in
 * elements, not bytes. A and B take any strides, so transposed or otherwise permuted views are multiplied in
 * place, without a copy (A transposed: {@code aRowStride = 1, aColStride = m}). C must have unit column stride.
 * Operands of one call must not overlap C.
 *
 * <p>The float32 path uses a packed, register-blocked Vector API kernel (see {@code GemmF32Vector}) when
 * {@code jdk.incubator.vector} is present ({@link CpuInfo#VECTOR}) and a plain scalar kernel otherwise. Work is
 * spread over {@link CpuPool}. The float64 path exists for gradient checks: correct and cache-friendly, not fast.
 */
public final class Gemm {
    /**
     * Below this many multiply-adds per task, splitting a GEMM across threads costs more than it saves
     * (fork/join latency is a few microseconds; the vector kernel does ~100 FMAs per nanosecond per core).
     */
    static final long MIN_FMAS_PER_TASK = 1L << 18;

    private Gemm() {}

    /**
     * {@code C = A·B}, or {@code C += A·B} when {@code accumulate}, in float32.
     *
     * @param m rows of A and C
     * @param n columns of B and C
     * @param k columns of A, rows of B (the reduction length); with {@code k == 0}, C is zeroed (or left alone
     *     when accumulating)
     * @param a A's storage; element {@code (i, p)} is at {@code aOff + i*aRowStride + p*aColStride}
     * @param b B's storage; element {@code (p, j)} is at {@code bOff + p*bRowStride + j*bColStride}
     * @param c C's storage; element {@code (i, j)} is at {@code cOff + i*cRowStride + j}
     * @param accumulate add the product to C instead of overwriting it
     */
    public static void sgemm(int m, int n, int k,
            MemorySegment a, long aOff, long aRowStride, long aColStride,
            MemorySegment b, long bOff, long bRowStride, long bColStride,
            MemorySegment c, long cOff, long cRowStride, boolean accumulate) {
        checkShape(1, m, n, k);
        if (m == 0 || n == 0) return;
        sgemm1(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride,
                c, cOff, cRowStride, accumulate, true);
    }

    /**
     * {@code C = A·B} in float32 for A [m, k] (any strides) and B [k, n] in BF16 stored transposed (column j's k
     * values contiguous at {@code bOff + j·bColStride}, {@code bColStride != 1}): a layer's input times its BF16
     * weight Wᵀ. Reads the BF16 values where they lie — in the dot products of a few rows, or while packing B's
     * panels — and gives the float32 product with B widened to float32 first, bit for bit, as {@link #sgemm}
     * computes it for that shape and layout. Returns false, computing nothing, for layouts it does not take or
     * without the Vector API; the caller then widens B itself.
     */
    public static boolean sgemmBf16Weights(int m, int n, int k,
            MemorySegment a, long aOff, long aRowStride, long aColStride,
            MemorySegment b, long bOff, long bRowStride, long bColStride,
            MemorySegment c, long cOff, long cRowStride) {
        checkShape(1, m, n, k);
        if (!CpuInfo.VECTOR || bRowStride != 1 || bColStride == 1 || k == 0) return false;
        if (m == 0 || n == 0) return true;
        GemmF32Vector.sgemm(m, n, k, a, aOff, aRowStride, aColStride, b, bOff, bRowStride, bColStride, c, cOff, cRowStride, false, true, true);
        return true;
    }

    /**
     * A batch of independent float32 GEMMs with the semantics of {@link #sgemm}; operand {@code i} of the batch
     * starts at {@code off + i*batchStride}. A batch stride of 0 broadcasts that operand over the batch (C's
     * batch stride must not be 0 unless {@code batch <= 1}). Parallelises over the batch when that gives every
     * thread an equal share of enough work, otherwise inside each GEMM.
     */
    public static void sgemmBatched(int batch, int m, int n, int k,
            MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
            MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
            MemorySegment c, long cOff, long cBatchStride, long cRowStride, boolean accumulate) {
        checkShape(batch, m, n, k);
        if (batch == 0 || m == 0 || n == 0) return;
        if (batch > 1 && cBatchStride == 0) throw new IllegalArgumentException("C's batch stride must not be 0");
        if (overBatch(batch, m, n, k)) {
            long grain = Math.max(1, MIN_FMAS_PER_TASK / ((long) m * n * Math.max(1, k)));
            CpuPool.parallelFor(batch, grain, (s, e) -> {
                for (long i = s; i < e; i++) {
                    sgemm1(m, n, k, a, aOff + i * aBatchStride, aRowStride, aColStride,
                            b, bOff + i * bBatchStride, bRowStride, bColStride,
                            c, cOff + i * cBatchStride, cRowStride, accumulate, false);
                }
            });
        } else {
            for (int i = 0; i < batch; i++) {
                sgemm1(m, n, k, a, aOff + i * aBatchStride, aRowStride, aColStride,
                        b, bOff + i * bBatchStride, bRowStride, bColStride,
                        c, cOff + i * cBatchStride, cRowStride, accumulate, true);
            }
        }
    }

    /**
     * The float64 counterpart of {@link #sgemmBatched}, with the same parameters. Meant for gradient checks and
     * other reference computations: exact to double rounding, cache-blocked, parallel over the batch and rows,
     * but not vectorised.
     */
    public static void dgemmBatched(int batch, int m, int n, int k,
            MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
            MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
            MemorySegment c, long cOff, long cBatchStride, long cRowStride, boolean accumulate) {
        checkShape(batch, m, n, k);
        if (batch == 0 || m == 0 || n == 0) return;
        if (batch > 1 && cBatchStride == 0) throw new IllegalArgumentException("C's batch stride must not be 0");
        // Flatten (batch, row-block) into one index space so that both small-batch-big-matrix and
        // big-batch-small-matrix cases keep both cores busy.
        int rowBlocks = (m + GemmScalar.DMR - 1) / GemmScalar.DMR;
        long total = (long) batch * rowBlocks;
        long fmasPerBlock = (long) Math.min(m, GemmScalar.DMR) * n * Math.max(1, k);
        long grain = Math.max(1, MIN_FMAS_PER_TASK / fmasPerBlock);
        CpuPool.parallelFor(total, grain, (s, e) -> {
            for (long t = s; t < e; t++) {
                long bi = t / rowBlocks;
                int i0 = (int) (t % rowBlocks) * GemmScalar.DMR;
                int rows = Math.min(GemmScalar.DMR, m - i0);
                GemmScalar.dgemmRows(rows, n, k,
                        a, aOff + bi * aBatchStride + i0 * aRowStride, aRowStride, aColStride,
                        b, bOff + bi * bBatchStride, bRowStride, bColStride,
                        c, cOff + bi * cBatchStride + i0 * cRowStride, cRowStride, accumulate);
            }
        });
    }

    /** One float32 GEMM; {@code parallel} false when the caller already parallelises (over a batch). */
    private static void sgemm1(int m, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean parallel) {
        if (k == 0) {
            if (!accumulate) GemmScalar.zero(m, n, c, cOff, cRs);
            return;
        }
        if (CpuInfo.VECTOR) {
            GemmF32Vector.sgemm(m, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, parallel);
        } else {
            GemmScalar.sgemm(m, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, parallel);
        }
    }

    /**
     * Whether to hand whole GEMMs of the batch to the threads: yes when every thread gets the same number of
     * them (or so many that the remainder does not matter), or when one GEMM is too small to split anyway.
     */
    private static boolean overBatch(int batch, int m, int n, int k) {
        int t = CpuPool.threads();
        if (batch <= 1 || t <= 1) return false;
        long fmas = (long) m * n * Math.max(1, k);
        if (fmas < 2 * MIN_FMAS_PER_TASK) return true;
        long rounds = (batch + t - 1) / t;
        return (double) batch / (rounds * t) >= 0.85;
    }

    private static void checkShape(int batch, int m, int n, int k) {
        if (batch < 0 || m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("negative GEMM size: batch=" + batch + " m=" + m + " n=" + n + " k=" + k);
        }
    }
}
