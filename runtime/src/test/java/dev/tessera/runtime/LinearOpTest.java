package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Functional#linear}: the values and gradients of {@code x.matmul(w.t()).add(b)}, checked by finite differences
 * in float64; every gradient made for its leaf alone (kept as {@code .grad} without a copy); bad shapes.
 */
class LinearOpTest {
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() {
        Profiler.disable();
        Profiler.reset();
        scope.close();
    }

    @Test
    void matchesTheCompositionForwardAndBackward() {
        for (int[] xs : new int[][] {{5, 7}, {3, 4, 7}, {2, 0, 7}, {7}}) {
            for (int out : new int[] {6, 9}) { // fewer outputs than inputs, and more (dW then comes as (xᵀ·g)ᵀ)
            for (boolean withBias : new boolean[] {true, false}) {
                Generator g = new Generator(xs.length * 10L + (withBias ? 1 : 0) + out * 100L);
                Tensor x = Tensor.randn(g, xs).to(DType.F64).requiresGrad(true), w = Tensor.randn(g, out, 7).to(DType.F64).requiresGrad(true);
                Tensor b = withBias ? Tensor.randn(g, out).to(DType.F64).requiresGrad(true) : null;
                Tensor x2 = x.detach().clone().requiresGrad(true), w2 = w.detach().clone().requiresGrad(true);
                Tensor b2 = withBias ? b.detach().clone().requiresGrad(true) : null;
                Tensor y = Functional.linear(x, w, b), want = b2 == null ? x2.matmul(w2.t()) : x2.matmul(w2.t()).add(b2);
                Tensor dy = Tensor.randn(new Generator(7), want.shape()).to(DType.F64);
                y.backward(dy);
                want.backward(dy);
                String what = java.util.Arrays.toString(xs) + " -> " + out + (withBias ? " with bias" : "");
                assertArrayEquals(want.shape(), y.shape(), what);
                close(want.toDoubleArray(), y.toDoubleArray(), what + " y");
                close(x2.grad().toDoubleArray(), x.grad().toDoubleArray(), what + " dx");
                close(w2.grad().toDoubleArray(), w.grad().toDoubleArray(), what + " dw");
                if (withBias) close(b2.grad().toDoubleArray(), b.grad().toDoubleArray(), what + " db");
            }
            }
        }
    }

    @Test
    void finiteDifferencesInFloat64() {
        Generator g = new Generator(3);
        Tensor x = Tensor.randn(g, 2, 3, 4).to(DType.F64), w = Tensor.randn(g, 5, 4).to(DType.F64), b = Tensor.randn(g, 5).to(DType.F64);
        Tensor proj = Tensor.randn(g, 2, 3, 5).to(DType.F64);
        Tensor[] in = {x, w, b};
        for (Tensor t : in) t.requiresGrad(true);
        Functional.linear(x, w, b).mul(proj).sum().backward();
        for (int k = 0; k < 3; k++) {
            double[] v = in[k].toDoubleArray(), analytic = in[k].grad().toDoubleArray();
            for (int i = 0; i < v.length; i++) {
                double[] f = new double[2];
                for (int sgn = 0; sgn < 2; sgn++) {
                    double[] p = v.clone();
                    p[i] += sgn == 0 ? 1e-6 : -1e-6;
                    try (Grad.Region r = Grad.noGrad(); Scope s = Scope.open()) {
                        Tensor[] args = {in[0].detach(), in[1].detach(), in[2].detach()};
                        args[k] = Tensor.of(p, in[k].shape());
                        f[sgn] = Functional.linear(args[0], args[1], args[2]).mul(proj).sum().item();
                    }
                }
                double numeric = (f[0] - f[1]) / 2e-6;
                assertEquals(numeric, analytic[i], 1e-6 + 1e-6 * Math.abs(numeric), "input " + k + " [" + i + "]");
            }
        }
    }

    /**
     * dW comes out as [out, in] in one product and db as one sum: each is kept as its leaf's .grad, no copy made of
     * an input; with more outputs than inputs the CPU multiplies xᵀ·g and copies that small [in, out] product
     * transposed, once, and the bits are those of gᵀ·x.
     */
    @Test
    void theGradientsAreTheLeavesOwn() {
        for (int out : new int[] {6, 12}) {
            Generator g = new Generator(4);
            Tensor x = Tensor.randn(g, 4, 16, 8).requiresGrad(true), w = Tensor.randn(g, out, 8).requiresGrad(true), b = Tensor.randn(g, out).requiresGrad(true);
            Tensor y = Functional.linear(x, w, b), dy = Tensor.randn(g, 4, 16, out);
            Profiler.reset();
            Profiler.enable();
            y.backward(dy);
            Profiler.disable();
            var ops = Profiler.snapshot();
            if (out < 8) assertTrue(!ops.containsKey("copy"), "no copy: " + ops.keySet());
            else assertEquals(1, ops.get("copy").calls(), "one copy, of the [8, 12] product: " + ops.keySet());
            assertEquals(1, ops.get("reduce.SUM_leading").calls(), "one sum over rows, the bias's: " + ops.keySet());
            assertTrue(w.grad().isContiguous());
            Tensor direct = dy.reshape(64, out).t().matmul(x.detach().reshape(64, 8));
            assertArrayEquals(direct.toFloatArray(), w.grad().toFloatArray(), "out " + out + ": the same sums in the same order");
        }
    }

    @Test
    void badInput() {
        Tensor x = Tensor.zeros(3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Functional.linear(x, Tensor.zeros(5, 3), null));
        assertTrue(e.getMessage().contains("linear") && e.getMessage().contains("[3, 4]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Functional.linear(x, Tensor.zeros(5, 4), Tensor.zeros(4)));
        assertTrue(e.getMessage().contains("bias must be [5]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Functional.linear(x, Tensor.zeros(5), null));
        assertThrows(IllegalArgumentException.class, () -> Functional.linear(x, Tensor.zeros(5, 4).to(DType.F64), null));
    }

    private static void close(double[] want, double[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-12 * Math.max(1, Math.abs(want[i])), what + " [" + i + "]");
    }
}
