package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

/** Host-side layout logic of the CUDA kernels: dim merging, the TsLayout bytes, and cuBLAS operand views. */
class CudaLayoutTest {
    private static long[] merged(int[] shape, long[] strides) {
        int[] rank = new int[1];
        long[] m = CudaLayout.merge(shape, strides, rank);
        return java.util.Arrays.copyOf(m, 2 * rank[0]);
    }

    @Test
    void contiguousViewsCollapseToOneDim() {
        assertArrayEquals(new long[] {24, 1}, merged(new int[] {2, 3, 4}, new long[] {12, 4, 1}));
        assertArrayEquals(new long[] {1, 1}, merged(new int[] {}, new long[] {}));
        assertArrayEquals(new long[] {1, 1}, merged(new int[] {1, 1}, new long[] {7, 9}));
    }

    @Test
    void transposesAndBroadcastsKeepTheirDims() {
        // [3,4] transposed from [4,3]: strides (1, 3) — no merge.
        assertArrayEquals(new long[] {3, 1, 4, 3}, merged(new int[] {3, 4}, new long[] {1, 3}));
        // broadcast row [1,4] expanded to [5,4]: strides (0, 1).
        assertArrayEquals(new long[] {5, 0, 4, 1}, merged(new int[] {5, 4}, new long[] {0, 1}));
        // size-1 dims vanish, the rest merges: [2,1,3] with strides (3, 99, 1).
        assertArrayEquals(new long[] {6, 1}, merged(new int[] {2, 1, 3}, new long[] {3, 99, 1}));
    }

    @Test
    void encodeWritesTheCStructLittleEndian() {
        byte[] b = CudaLayout.encode(new int[] {3, 4}, new long[] {1, 3});
        assertEquals(CudaLayout.BYTES, b.length);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(2, bb.getInt(0));
        assertEquals(3, bb.getLong(8));
        assertEquals(4, bb.getLong(16));
        assertEquals(1, bb.getLong(8 + 8 * CudaLayout.MAX_DIMS));
        assertEquals(3, bb.getLong(8 + 8 * CudaLayout.MAX_DIMS + 8));
    }

    @Test
    void tooManyDimsAfterMergingIsRefusedClearly() {
        int[] shape = {2, 2, 2, 2, 2, 2, 2, 2, 2};
        long[] strides = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536}; // nothing merges
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CudaLayout.encode(shape, strides));
        assertTrue(e.getMessage().contains("at most 8 dimensions"), e.getMessage());
    }

    @Test
    void cublasReadsRowMajorAsNoTransposeAndTransposedViewsAsTranspose() {
        // Row-major [m=4, k=3]: contiguous columns, ld = 3, op N.
        assertEquals(new CudaMatmul.BlasView(Cublas.OP_N, 3, 12), CudaMatmul.view(4, 3, 12, 3, 1));
        // A transposed [k=3, m=4] weight viewed as [4, 3]: strides (1, 4): op T with ld 4.
        assertEquals(new CudaMatmul.BlasView(Cublas.OP_T, 4, 0), CudaMatmul.view(4, 3, 0, 1, 4));
        // Padded rows (ld 8 > 3) are fine; a strided view with unit stride nowhere is not.
        assertEquals(new CudaMatmul.BlasView(Cublas.OP_N, 8, 32), CudaMatmul.view(4, 3, 32, 8, 1));
        assertNull(CudaMatmul.view(4, 3, 24, 6, 2));
        // A vector [1, k] with any row stride reads as dense.
        assertEquals(Cublas.OP_N, CudaMatmul.view(1, 5, 5, 123, 1).op());
    }
}
