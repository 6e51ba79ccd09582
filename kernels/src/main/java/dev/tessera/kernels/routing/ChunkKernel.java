package dev.tessera.kernels.routing;

import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The fast chunk: compaction of the boundary rows as plain row copies (any dtype), parallel over positions, driven
 * by one serial scan over b (the prefix sum, which is also dechunk's upsampling index).
 */
final class ChunkKernel {
    private ChunkKernel() {}

    /** The bytes of a BOOL tensor, row-major. */
    static byte[] bytes(Tensor bool) {
        Tensor c = bool.contiguous();
        return KernelSupport.segment(c).asSlice(KernelSupport.offset(c), c.numel()).toArray(ValueLayout.JAVA_BYTE);
    }

    /** index[r·L + t] = Σ_{t' ≤ t} b[r, t'] (cumsum(b) along each row). */
    static long[] prefixSum(byte[] b, int batch, int len) {
        long[] index = new long[b.length];
        for (int r = 0; r < batch; r++) {
            long s = 0;
            for (int t = 0; t < len; t++) {
                s += b[r * len + t];
                index[r * len + t] = s;
            }
        }
        return index;
    }

    /** Largest per-row chunk count. */
    static int maxCount(long[] index, int batch, int len) {
        long m = 0;
        for (int r = 0; r < batch; r++) if (len > 0) m = Math.max(m, index[r * len + len - 1]);
        return (int) m;
    }

    /**
     * Copies row t of x (contiguous [B, L, D] at element offset {@code xOff}) to row index−1 of y ([B, M, D], fresh)
     * where b = 1, or the reverse when {@code scatter} (then x is dy [B, M, D] and y is dx [B, L, D]).
     */
    static void copyRows(MemorySegment x, long xOff, MemorySegment y, byte[] b, long[] index, int len, int m, int d,
                         int elementBytes, boolean scatter) {
        long row = (long) d * elementBytes;
        KernelSupport.parallelFor(b.length, Math.max(1, 65536 / Math.max(1, row)), (s, e) -> {
            for (int i = (int) s; i < e; i++) {
                if (b[i] == 0) continue;
                long chunkRow = (long) (i / len) * m + index[i] - 1;
                if (scatter) MemorySegment.copy(x, elementBytes * xOff + chunkRow * row, y, i * row, row);
                else MemorySegment.copy(x, elementBytes * xOff + i * row, y, chunkRow * row, row);
            }
        });
    }
}
