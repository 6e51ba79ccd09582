package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleUnaryOperator;

/** Small assertions and input builders shared by the op tests. Expected values never come from the runtime. */
final class Expect {
    private Expect() {}

    static void shape(Tensor t, int... expected) {
        assertArrayEquals(expected, t.shape(), "shape");
    }

    /** Shape and values (compared with {@code tol} absolute plus {@code tol} relative). */
    static void values(Tensor t, int[] shape, double[] expected, double tol) {
        shape(t, shape);
        values(t, expected, tol);
    }

    static void values(Tensor t, double[] expected, double tol) {
        double[] got = t.toDoubleArray();
        assertEquals(expected.length, got.length, "element count");
        for (int i = 0; i < got.length; i++) {
            double e = expected[i], g = got[i];
            if (Double.isNaN(e)) {
                assertTrue(Double.isNaN(g), "element " + i + ": expected NaN, got " + g);
            } else if (Double.isInfinite(e)) {
                assertEquals(e, g, "element " + i);
            } else {
                assertTrue(Math.abs(e - g) <= tol + tol * Math.abs(e), "element " + i + ": expected " + e + ", got " + g
                        + " (tol " + tol + ")");
            }
        }
    }

    static double[] map(double[] x, DoubleUnaryOperator f) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = f.applyAsDouble(x[i]);
        return out;
    }

    /** 0, 1, ..., n-1 scaled by {@code a} and shifted by {@code b}. */
    static double[] ramp(int n, double a, double b) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = a * i + b;
        return v;
    }

    static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }

    /** Values read back through a {@link Tensor#get} loop (exercises strides without any copy op). */
    static double[] viaGet(Tensor t) {
        int[] s = t.shape();
        int n = (int) t.numel();
        double[] out = new double[n];
        int[] idx = new int[s.length];
        for (int i = 0; i < n; i++) {
            out[i] = t.get(idx);
            for (int d = s.length - 1; d >= 0; d--) {
                if (++idx[d] < s[d]) break;
                idx[d] = 0;
            }
        }
        return out;
    }

    /** A standard-normal F64 leaf. */
    static Tensor randn64(Generator g, int... shape) { return Tensor.randn(g, shape).to(DType.F64); }

    /** Normal values pushed at least {@code gap} away from zero (for ops with a kink at 0). */
    static Tensor awayFromZero(Generator g, double gap, int... shape) {
        double[] v = Tensor.randn(g, shape).toDoubleArray();
        for (int i = 0; i < v.length; i++) v[i] = v[i] >= 0 ? v[i] + gap : v[i] - gap;
        return Tensor.of(v, shape);
    }

    /** Uniform values in [lo, hi), F64. */
    static Tensor uniform64(Generator g, double lo, double hi, int... shape) {
        double[] v = Tensor.rand(g, shape).toDoubleArray();
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * v[i];
        return Tensor.of(v, shape);
    }

    /** Standard normal CDF by composite Simpson integration of the density (independent of the runtime's erf). */
    static double normalCdf(double x) {
        int n = 4000; // even
        double h = x / n, s = 0;
        for (int i = 0; i <= n; i++) {
            double t = i * h, f = Math.exp(-t * t / 2);
            s += (i == 0 || i == n) ? f : (i % 2 == 1 ? 4 * f : 2 * f);
        }
        return 0.5 + s * h / 3 / Math.sqrt(2 * Math.PI);
    }
}
