package dev.tessera.kernels.rotary;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The readable float64 rotary embedding: one row at a time, the formulas of {@link Rotary} as written. */
public final class RotaryReference {
    private RotaryReference() {}

    /**
     * dst[r] = src[r] rotated by sign·θ of position r mod L, for contiguous [rows, P] src (from element {@code srcOff})
     * and dst (from 0), tables [L, half] from {@code cosOff} and {@code sinOff}.
     */
    public static void rotate(MemorySegment src, long srcOff, MemorySegment dst, MemorySegment cos, long cosOff, MemorySegment sin,
                              long sinOff, long rows, int l, int p, int half, int sign) {
        ValueLayout.OfDouble d = ValueLayout.JAVA_DOUBLE;
        for (long r = 0; r < rows; r++) {
            long in = srcOff + r * p, out = r * p, table = (r % l) * half;
            for (int i = 0; i < half; i++) {
                double c = cos.getAtIndex(d, cosOff + table + i), s = sign * sin.getAtIndex(d, sinOff + table + i);
                double x1 = src.getAtIndex(d, in + i), x2 = src.getAtIndex(d, in + half + i);
                dst.setAtIndex(d, out + i, x1 * c - x2 * s);
                dst.setAtIndex(d, out + half + i, x2 * c + x1 * s);
            }
            for (int i = 2 * half; i < p; i++) dst.setAtIndex(d, out + i, src.getAtIndex(d, in + i));
        }
    }
}
