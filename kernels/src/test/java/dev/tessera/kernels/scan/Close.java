package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Tensor;

/** Tolerant comparison of tensors: max |a − e| ≤ tol · (1 + max |e|), and never NaN. */
final class Close {
    private Close() {}

    static void assertClose(String what, Tensor expected, Tensor actual, double tol) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray();
        double scale = 0, worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            assertTrue(Double.isFinite(a[i]), what + "[" + i + "] is " + a[i]);
            scale = Math.max(scale, Math.abs(e[i]));
            double d = Math.abs(a[i] - e[i]);
            if (d > worst) { worst = d; at = i; }
        }
        double bound = tol * (1 + scale);
        final int idx = at;
        final double w = worst;
        assertTrue(w <= bound, () -> what + ": max error " + w + " at " + idx + " (expected " + e[idx] + ", got " + a[idx]
                + ") exceeds " + bound);
    }
}
