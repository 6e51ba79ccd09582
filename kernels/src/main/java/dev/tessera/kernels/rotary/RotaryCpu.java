package dev.tessera.kernels.rotary;

import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The fast F32 rotary embedding: blocks of rows in parallel on the runtime's pool. Each block is copied into a heap
 * array, rotated there and copied out: attention heads rotate only a few channels per row (4 to 64), and per-element
 * segment accesses cost more than the arithmetic at that length, while bulk copies and array loops run at memory
 * speed. Scalar on purpose: rows that short leave vector lanes mostly to their tails.
 */
final class RotaryCpu {
    private RotaryCpu() {}

    private static final int BLOCK_FLOATS = 1 << 14;

    static void rotate(MemorySegment src, long srcOff, MemorySegment dst, MemorySegment cos, long cosOff, MemorySegment sin, long sinOff,
                       long rows, int l, int p, int half, int sign) {
        float[] c = new float[l * half], sn = new float[l * half];
        MemorySegment.copy(cos, ValueLayout.JAVA_FLOAT, cosOff * 4, c, 0, c.length);
        MemorySegment.copy(sin, ValueLayout.JAVA_FLOAT, sinOff * 4, sn, 0, sn.length);
        if (sign < 0) for (int i = 0; i < sn.length; i++) sn[i] = -sn[i];
        int blockRows = Math.max(1, BLOCK_FLOATS / p);
        KernelSupport.parallelFor(rows, blockRows, (s, e) -> {
            float[] in = new float[(int) Math.min(blockRows, e - s) * p], out = new float[in.length];
            for (long r0 = s; r0 < e; r0 += blockRows) {
                int n = (int) Math.min(blockRows, e - r0);
                MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, (srcOff + r0 * p) * 4, in, 0, n * p);
                for (int j = 0; j < n; j++) {
                    int row = j * p, table = (int) ((r0 + j) % l) * half;
                    for (int i = 0; i < half; i++) {
                        float x1 = in[row + i], x2 = in[row + half + i], ci = c[table + i], si = sn[table + i];
                        out[row + i] = x1 * ci - x2 * si;
                        out[row + half + i] = x2 * ci + x1 * si;
                    }
                    System.arraycopy(in, row + 2 * half, out, row + 2 * half, p - 2 * half);
                }
                MemorySegment.copy(out, 0, dst, ValueLayout.JAVA_FLOAT, r0 * p * 4, n * p);
            }
        });
    }
}
