package dev.tessera.runtime.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Scalar GEMM kernels: the float32 fallback when the Vector API is absent, and the float64 reference path.
 * Both block over rows, columns and the reduction so that the touched part of B stays in cache, and sum into a
 * small row-block accumulator before touching C once.
 */
final class GemmScalar {
    /** Rows per float64 task (and per float32 fallback task). */
    static final int DMR = 32;
    /** Columns and reduction length per cache block: a 256×256 block of B is 256 KiB in float32, 512 KiB in float64. */
    private static final int NB = 256, KB = 256;

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;

    private GemmScalar() {}

    /** Sets the {@code m×n} block of C to zero. */
    static void zero(int m, int n, MemorySegment c, long cOff, long cRs) {
        for (int i = 0; i < m; i++) {
            c.asSlice((cOff + i * cRs) * Float.BYTES, (long) n * Float.BYTES).fill((byte) 0);
        }
    }

    /** Float32 GEMM without SIMD, parallel over blocks of {@link #DMR} rows when {@code parallel}. */
    static void sgemm(int m, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean parallel) {
        int blocks = (m + DMR - 1) / DMR;
        long grain = parallel ? Math.max(1, Gemm.MIN_FMAS_PER_TASK / ((long) Math.min(m, DMR) * n * k)) : blocks;
        CpuPool.parallelFor(blocks, grain, (s, e) -> {
            for (long blk = s; blk < e; blk++) {
                int i0 = (int) blk * DMR;
                sgemmRows(Math.min(DMR, m - i0), n, k, a, aOff + i0 * aRs, aRs, aCs, b, bOff, bRs, bCs,
                        c, cOff + i0 * cRs, cRs, accumulate);
            }
        });
    }

    private static void sgemmRows(int rows, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate) {
        float[] acc = new float[rows * Math.min(n, NB)];
        for (int j0 = 0; j0 < n; j0 += NB) {
            int nb = Math.min(NB, n - j0);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < nb; j++) {
                    acc[i * nb + j] = accumulate ? c.getAtIndex(F, cOff + i * cRs + j0 + j) : 0f;
                }
            }
            for (int p0 = 0; p0 < k; p0 += KB) {
                int kb = Math.min(KB, k - p0);
                for (int i = 0; i < rows; i++) {
                    for (int p = p0; p < p0 + kb; p++) {
                        float aip = a.getAtIndex(F, aOff + i * aRs + p * aCs);
                        long bp = bOff + p * bRs + j0 * bCs;
                        int base = i * nb;
                        for (int j = 0; j < nb; j++) {
                            acc[base + j] += aip * b.getAtIndex(F, bp + j * bCs);
                        }
                    }
                }
            }
            for (int i = 0; i < rows; i++) {
                MemorySegment.copy(acc, i * nb, c, F, (cOff + i * cRs + j0) * Float.BYTES, nb);
            }
        }
    }

    /** Float64 GEMM of a block of {@code rows} rows (the caller parallelises). */
    static void dgemmRows(int rows, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate) {
        double[] acc = new double[rows * Math.min(n, NB)];
        for (int j0 = 0; j0 < n; j0 += NB) {
            int nb = Math.min(NB, n - j0);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < nb; j++) {
                    acc[i * nb + j] = accumulate ? c.getAtIndex(D, cOff + i * cRs + j0 + j) : 0.0;
                }
            }
            for (int p0 = 0; p0 < k; p0 += KB) {
                int kb = Math.min(KB, k - p0);
                for (int i = 0; i < rows; i++) {
                    for (int p = p0; p < p0 + kb; p++) {
                        double aip = a.getAtIndex(D, aOff + i * aRs + p * aCs);
                        long bp = bOff + p * bRs + j0 * bCs;
                        int base = i * nb;
                        for (int j = 0; j < nb; j++) {
                            acc[base + j] += aip * b.getAtIndex(D, bp + j * bCs);
                        }
                    }
                }
            }
            for (int i = 0; i < rows; i++) {
                MemorySegment.copy(acc, i * nb, c, D, (cOff + i * cRs + j0) * Double.BYTES, nb);
            }
        }
    }
}
