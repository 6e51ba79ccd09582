package dev.tessera.kernels.swiglu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The readable float64 SwiGLU: one row at a time, the formulas of {@link SwiGlu} as written. */
public final class SwiGluReference {
    private SwiGluReference() {}

    private static double sigmoid(double v) { return 1 / (1 + Math.exp(-v)); }

    /** y[r, i] = u·SiLU(g) with u = x[r, i], g = x[r, F + i]; x starts at element {@code xOff}, y at 0. */
    public static void forward(MemorySegment x, long xOff, MemorySegment y, int rows, int f) {
        for (long r = 0; r < rows; r++) {
            for (int i = 0; i < f; i++) {
                double u = x.getAtIndex(ValueLayout.JAVA_DOUBLE, xOff + r * 2 * f + i);
                double g = x.getAtIndex(ValueLayout.JAVA_DOUBLE, xOff + r * 2 * f + f + i);
                y.setAtIndex(ValueLayout.JAVA_DOUBLE, r * f + i, u * g * sigmoid(g));
            }
        }
    }

    /** dx = [du | dg] from dy. */
    public static void backward(MemorySegment x, long xOff, MemorySegment dy, long dyOff, MemorySegment dx, int rows, int f) {
        for (long r = 0; r < rows; r++) {
            for (int i = 0; i < f; i++) {
                double u = x.getAtIndex(ValueLayout.JAVA_DOUBLE, xOff + r * 2 * f + i);
                double g = x.getAtIndex(ValueLayout.JAVA_DOUBLE, xOff + r * 2 * f + f + i);
                double d = dy.getAtIndex(ValueLayout.JAVA_DOUBLE, dyOff + r * f + i);
                double s = sigmoid(g);
                dx.setAtIndex(ValueLayout.JAVA_DOUBLE, r * 2 * f + i, d * g * s);
                dx.setAtIndex(ValueLayout.JAVA_DOUBLE, r * 2 * f + f + i, d * u * s * (1 + g * (1 - s)));
            }
        }
    }
}
