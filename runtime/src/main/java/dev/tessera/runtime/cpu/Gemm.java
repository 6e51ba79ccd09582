package dev.tessera.runtime.cpu;

import java.lang.foreign.MemorySegment;

/** Placeholder GEMM (naive, correct); replaced by the packed micro-kernel. */
public final class Gemm {
    private Gemm() {}

    public static void sgemmBatched(int batch, int m, int n, int k,
                                    MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                                    MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                                    MemorySegment c, long cOff, long cBatchStride, long cRowStride, boolean accumulate) {
        for (int p = 0; p < batch; p++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float s = 0;
                    for (int q = 0; q < k; q++) {
                        s += a.getAtIndex(Elements.F, aOff + p * aBatchStride + i * aRowStride + q * aColStride)
                                * b.getAtIndex(Elements.F, bOff + p * bBatchStride + q * bRowStride + j * bColStride);
                    }
                    long ci = cOff + p * cBatchStride + i * cRowStride + j;
                    c.setAtIndex(Elements.F, ci, accumulate ? c.getAtIndex(Elements.F, ci) + s : s);
                }
            }
        }
    }

    public static void dgemmBatched(int batch, int m, int n, int k,
                                    MemorySegment a, long aOff, long aBatchStride, long aRowStride, long aColStride,
                                    MemorySegment b, long bOff, long bBatchStride, long bRowStride, long bColStride,
                                    MemorySegment c, long cOff, long cBatchStride, long cRowStride, boolean accumulate) {
        for (int p = 0; p < batch; p++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int q = 0; q < k; q++) {
                        s += a.getAtIndex(Elements.D, aOff + p * aBatchStride + i * aRowStride + q * aColStride)
                                * b.getAtIndex(Elements.D, bOff + p * bBatchStride + q * bRowStride + j * bColStride);
                    }
                    long ci = cOff + p * cBatchStride + i * cRowStride + j;
                    c.setAtIndex(Elements.D, ci, accumulate ? c.getAtIndex(Elements.D, ci) + s : s);
                }
            }
        }
    }
}
