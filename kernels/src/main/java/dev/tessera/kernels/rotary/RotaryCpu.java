package dev.tessera.kernels.rotary;

import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The fast F32 rotary embedding: rows in parallel on the runtime's pool. Scalar on purpose: attention heads rotate a
 * few channels per row (4 to 64), too few for vector lanes to pay for their tails; the gain over the composition is
 * the single pass.
 */
final class RotaryCpu {
    private RotaryCpu() {}

    static void rotate(MemorySegment src, long srcOff, MemorySegment dst, MemorySegment cos, long cosOff, MemorySegment sin, long sinOff,
                       long rows, int l, int p, int half, int sign) {
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT;
        float sg = sign;
        KernelSupport.parallelFor(rows, Math.max(1, 16384 / p), (s, e) -> {
            for (long r = s; r < e; r++) {
                long in = srcOff + r * p, out = r * p, table = (r % l) * half;
                for (int i = 0; i < half; i++) {
                    float c = cos.getAtIndex(f, cosOff + table + i), sn = sg * sin.getAtIndex(f, sinOff + table + i);
                    float x1 = src.getAtIndex(f, in + i), x2 = src.getAtIndex(f, in + half + i);
                    dst.setAtIndex(f, out + i, x1 * c - x2 * sn);
                    dst.setAtIndex(f, out + half + i, x2 * c + x1 * sn);
                }
                if (2 * half < p) MemorySegment.copy(src, (in + 2 * half) * 4, dst, (out + 2 * half) * 4, (p - 2L * half) * 4);
            }
        });
    }
}
