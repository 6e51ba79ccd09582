package dev.tessera.kernels.norm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The readable float64 gated RMSNorm: one row at a time, the formulas of {@link GatedRmsNorm} as written. Offsets and
 * strides count elements: x, y and dx are rows of d a row apart, z and dz rows of d {@code zStride} / {@code dzStride}
 * apart.
 */
public final class GatedRmsNormReference {
    private GatedRmsNormReference() {}

    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;

    private static double sigmoid(double v) { return 1 / (1 + Math.exp(-v)); }

    /** y = h·rstd·w with h = x·SiLU(z); rstd[r] = 1/sqrt(mean(h²) + eps). */
    public static void forward(MemorySegment x, long xOff, MemorySegment z, long zOff, long zStride, MemorySegment w, long wOff,
                               MemorySegment y, long yOff, double[] rstd, int rows, int d, double eps) {
        double[] h = new double[d];
        for (long r = 0; r < rows; r++) {
            double ss = 0;
            for (int j = 0; j < d; j++) {
                double zv = z.getAtIndex(D, zOff + r * zStride + j);
                h[j] = x.getAtIndex(D, xOff + r * d + j) * zv * sigmoid(zv);
                ss += h[j] * h[j];
            }
            double rs = 1 / Math.sqrt(ss / d + eps);
            rstd[(int) r] = rs;
            for (int j = 0; j < d; j++) y.setAtIndex(D, yOff + r * d + j, h[j] * rs * w.getAtIndex(D, wOff + j));
        }
    }

    /**
     * dh = rstd·(dy·w) − h·rstd³·mean(dy·w·h); dx = dh·SiLU(z); dz = dh·x·σ(z)·(1 + z·(1 − σ(z))); dw = Σ_rows dy·h·rstd.
     */
    public static void backward(MemorySegment x, long xOff, MemorySegment z, long zOff, long zStride, MemorySegment w, long wOff,
                                MemorySegment dy, long dyOff, double[] rstd, MemorySegment dx, long dxOff, MemorySegment dz, long dzOff,
                                long dzStride, MemorySegment dw, long dwOff, int rows, int d) {
        double[] h = new double[d], acc = new double[d];
        for (long r = 0; r < rows; r++) {
            double rs = rstd[(int) r], dot = 0;
            for (int j = 0; j < d; j++) {
                double zv = z.getAtIndex(D, zOff + r * zStride + j);
                h[j] = x.getAtIndex(D, xOff + r * d + j) * zv * sigmoid(zv);
                double g = dy.getAtIndex(D, dyOff + r * d + j);
                dot += g * w.getAtIndex(D, wOff + j) * h[j];
                acc[j] += g * h[j] * rs;
            }
            double c = rs * rs * rs * dot / d;
            for (int j = 0; j < d; j++) {
                double zv = z.getAtIndex(D, zOff + r * zStride + j), xv = x.getAtIndex(D, xOff + r * d + j), sg = sigmoid(zv);
                double dh = rs * dy.getAtIndex(D, dyOff + r * d + j) * w.getAtIndex(D, wOff + j) - h[j] * c;
                dx.setAtIndex(D, dxOff + r * d + j, dh * zv * sg);
                dz.setAtIndex(D, dzOff + r * dzStride + j, dh * xv * sg * (1 + zv * (1 - sg)));
            }
        }
        for (int j = 0; j < d; j++) dw.setAtIndex(D, dwOff + j, acc[j]);
    }
}
