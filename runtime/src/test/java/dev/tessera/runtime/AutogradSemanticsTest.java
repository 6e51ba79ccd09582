package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What the autograd engine promises: accumulation, retain graph, no-grad regions, detach, deep graphs, anomaly mode. */
class AutogradSemanticsTest {
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() {
        Grad.setAnomalyDetection(false);
        scope.close();
    }

    private static Tensor leaf(float... v) { return Tensor.of(v, v.length).requiresGrad(true); }

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        Tensor x = leaf(1, 2, 3);
        x.mul(x).sum().backward();
        assertArrayEquals(new float[] {2, 4, 6}, x.grad().toFloatArray());
        x.mul(3).sum().backward(); // a second graph adds to the same .grad
        assertArrayEquals(new float[] {5, 7, 9}, x.grad().toFloatArray());
    }

    @Test
    void zeroGradClearsTheGradient() {
        Tensor x = leaf(1, 2);
        x.mul(2).sum().backward();
        Tensor g = x.grad();
        x.zeroGrad();
        assertNull(x.grad());
        assertTrue(g.isReleased());
        x.mul(5).sum().backward();
        assertArrayEquals(new float[] {5, 5}, x.grad().toFloatArray(), "after zeroGrad the next backward starts from zero");
        x.zeroGrad();
        x.zeroGrad(); // idempotent
    }

    @Test
    void retainGraphAllowsASecondWalk() {
        Tensor x = leaf(2);
        Tensor y = x.pow(3).sum(); // dy/dx = 3x² = 12
        y.backward(null, true);
        y.backward(null, true);
        assertEquals(24, x.grad().item(), 1e-5);
        y.backward();
        assertEquals(36, x.grad().item(), 1e-5);
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("retainGraph"), e.getMessage());
    }

    /**
     * A leaf keeps a gradient made for it alone as its .grad (no copy), but never one that is shared: the same
     * tensor handed to two inputs (add), a view of the gradient a node received (reshape), or the caller's own.
     */
    @Test
    void leafGradientsAreNeverSharedWithAnotherTensor() {
        Tensor x = leaf(1, 2, 3);
        // add's backward returns the gradient it received (here a fresh one from mul) for both inputs
        x.add(x).mul(Tensor.of(new float[] {1, 10, 100}, 3)).sum().backward();
        assertArrayEquals(new float[] {2, 20, 200}, x.grad().toFloatArray());
        Tensor a = leaf(1, 1, 1), b = leaf(2, 2, 2);
        Tensor y = a.add(b).mul(Tensor.of(new float[] {1, 10, 100}, 3)).sum();
        y.backward(null, true);
        y.backward(); // had a and b kept one tensor as .grad, each walk would add into both
        assertArrayEquals(new float[] {2, 20, 200}, a.grad().toFloatArray());
        assertArrayEquals(new float[] {2, 20, 200}, b.grad().toFloatArray());
        Tensor w = leaf(1, 2, 3, 4);
        Tensor given = Tensor.of(new float[] {5, 6, 7, 8}, 2, 2);
        w.reshape(2, 2).backward(given); // w.grad comes from a view of the caller's tensor
        given.fill(0);
        assertArrayEquals(new float[] {5, 6, 7, 8}, w.grad().toFloatArray(), "the caller's gradient is not w.grad");
        Tensor v = leaf(1, 2);
        v.backward(Tensor.of(new float[] {3, 4}, 2)); // backward on a leaf: the seed is copied
        Tensor u = leaf(2, 5);
        Tensor h = u.mul(3);
        h.sum().backward(null, true); // a gradient made for u alone: kept, and accumulated into by the next walk
        h.sum().backward();
        assertArrayEquals(new float[] {6, 6}, u.grad().toFloatArray());
        assertArrayEquals(new float[] {3, 4}, v.grad().toFloatArray());
    }

    /** Where no slice of a sliced intermediate is used, its gradient is 0 (the buffer starts uninitialised). */
    @Test
    void slicesThatLeaveGapsGiveZeroGradientThere() {
        Tensor x = leaf(1, 2, 3, 4, 5, 6);
        Tensor y = x.mul(2);
        y.narrow(0, 0, 2).sum().add(y.narrow(0, 4, 1).mul(3).sum()).backward();
        assertArrayEquals(new float[] {2, 2, 0, 0, 6, 0}, x.grad().toFloatArray());
        Tensor m = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
        Tensor z = m.mul(1);
        z.narrow(1, 1, 1).sum().add(z.narrow(1, 2, 1).mul(2).sum()).add(z.narrow(0, 1, 1).mul(10).sum()).backward();
        assertArrayEquals(new float[] {0, 1, 2, 10, 11, 12}, m.grad().toFloatArray());
    }

    /** Slices' gradients go into one buffer the walk owns: walking twice must not add the first walk's in again. */
    @Test
    void retainedGraphOfSlicesGivesTheSameGradientTwice() {
        Tensor x = leaf(1, 2, 3, 4);
        Tensor y = x.mul(x);
        Tensor loss = y.narrow(0, 0, 2).sum().add(y.narrow(0, 1, 3).mul(3).sum()).add(y.sum());
        loss.backward(null, true);
        float[] once = x.grad().toFloatArray();
        // d/dx of x² (1 + [i<2] + 3·[i≥1]) = 2x (…): 2·1·2, 2·2·5, 2·3·4, 2·4·4
        assertArrayEquals(new float[] {4, 20, 24, 32}, once);
        x.zeroGrad();
        loss.backward();
        assertArrayEquals(once, x.grad().toFloatArray());
    }

    @Test
    void noGradRecordsNothingAndEnableGradReenables() {
        Tensor x = leaf(1, 2);
        Tensor a, b, c;
        try (Grad.Region g = Grad.noGrad()) {
            assertFalse(Grad.isEnabled());
            a = x.mul(2).exp();
            assertFalse(a.requiresGrad());
            assertTrue(a.isLeaf());
            assertNull(a.gradFnName());
            try (Grad.Region e = Grad.enableGrad()) {
                assertTrue(Grad.isEnabled());
                b = x.mul(3);
                assertTrue(b.requiresGrad());
                assertEquals("mul_scalar", b.gradFnName());
            }
            assertFalse(Grad.isEnabled(), "closing enableGrad restores the outer no-grad");
            c = b.add(1);
            assertFalse(c.requiresGrad());
        }
        assertTrue(Grad.isEnabled());
        assertThrows(IllegalStateException.class, a.sum()::backward);
        b.sum().backward();
        assertArrayEquals(new float[] {3, 3}, x.grad().toFloatArray());
    }

    @Test
    void noGradIsPerThread() throws Exception {
        Tensor x = leaf(1);
        boolean[] other = new boolean[1];
        try (Grad.Region g = Grad.noGrad()) {
            Thread t = new Thread(() -> {
                try (Scope s = Scope.open()) {
                    other[0] = x.mul(2).requiresGrad();
                }
            });
            t.start();
            t.join();
        }
        assertTrue(other[0], "another thread still records");
    }

    @Test
    void detachCutsTheGraph() {
        Tensor x = leaf(1, 2, 3);
        Tensor d = x.mul(2).detach();
        assertFalse(d.requiresGrad());
        assertTrue(d.isLeaf());
        assertArrayEquals(new float[] {2, 4, 6}, d.toFloatArray());
        Tensor y = x.mul(d).sum(); // d is a constant: dy/dx = d
        y.backward();
        assertArrayEquals(new float[] {2, 4, 6}, x.grad().toFloatArray());
        Tensor leafD = x.detach();
        assertTrue(leafD.sharesStorageWith(x), "detach shares the data");
    }

    @Test
    void requiresGradPropagates() {
        Tensor a = leaf(1, 2);
        Tensor b = Tensor.of(new float[] {3, 4}, 2);
        assertFalse(b.requiresGrad());
        assertTrue(a.add(b).requiresGrad());
        assertTrue(b.mul(a).requiresGrad());
        assertFalse(b.mul(b).requiresGrad());
        assertTrue(a.reshape(2, 1).transpose(0, 1).requiresGrad(), "views propagate too");
        assertTrue(a.matmul(b).requiresGrad());
        assertFalse(a.gt(b).requiresGrad(), "comparisons are not differentiable");
        assertFalse(a.argmax(0, false).requiresGrad());
        assertTrue(a.isLeaf());
        assertFalse(a.add(b).isLeaf());
        // Only the leaves that require grad receive one.
        a.mul(b).sum().backward();
        assertArrayEquals(new float[] {3, 4}, a.grad().toFloatArray());
        assertNull(b.grad());
    }

    @Test
    void diamondGraphSumsBothPaths() {
        Tensor x = leaf(1, 2, 3);
        Tensor a = x.mul(2);      // da/dx = 2
        Tensor b = x.mul(x);      // db/dx = 2x
        Tensor y = a.add(b).sum();
        y.backward();
        assertArrayEquals(new float[] {4, 6, 8}, x.grad().toFloatArray());

        Tensor z = leaf(3);
        Tensor t = z.exp();
        t.mul(t).sum().backward(); // d e^{2z}/dz = 2e^{2z}
        assertEquals(2 * Math.exp(6), z.grad().item(), 1e-2);
    }

    @Test
    void backwardWithAnExplicitGradient() {
        Tensor x = leaf(1, 2, 3);
        Tensor y = x.mul(x); // not a scalar
        y.backward(Tensor.of(new float[] {1, 0.5f, -1}, 3));
        assertArrayEquals(new float[] {2, 2, -6}, x.grad().toFloatArray());
        Tensor w = leaf(1, 2);
        w.backward(Tensor.of(new float[] {7, 8}, 2)); // backward on a leaf seeds its gradient
        assertArrayEquals(new float[] {7, 8}, w.grad().toFloatArray());
    }

    @Test
    void deepChainDoesNotOverflowTheStack() {
        Tensor x = leaf(1, 2);
        Tensor y = x;
        for (int i = 0; i < 10_000; i++) y = i % 2 == 0 ? y.add(1) : y.mul(1.0);
        y.sum().backward();
        assertArrayEquals(new float[] {1, 1}, x.grad().toFloatArray());
        assertArrayEquals(new float[] {5001, 5002}, y.toFloatArray());
    }

    @Test
    void anomalyModeNamesTheForwardOpThatProducedNaN() {
        Tensor x = leaf(1, -1);
        Grad.setAnomalyDetection(true);
        try {
            Tensor y = x.mul(2);
            ArithmeticException e = assertThrows(ArithmeticException.class, y::log);
            assertTrue(e.getMessage().contains("'log'"), e.getMessage());
            assertFalse(e.getMessage().contains("backward"), e.getMessage());
        } finally {
            Grad.setAnomalyDetection(false);
        }
        assertTrue(Double.isNaN(x.log().toFloatArray()[1]), "without anomaly mode NaN flows silently");
    }

    @Test
    void anomalyModeNamesTheBackwardOpWhenOnlyTheGradientIsNonFinite() {
        Tensor x = leaf(0, 4);
        Grad.setAnomalyDetection(true);
        try {
            Tensor y = x.sqrt().sum(); // forward is finite: 0 and 2
            assertEquals(2, y.item(), 0);
            ArithmeticException e = assertThrows(ArithmeticException.class, y::backward);
            assertTrue(e.getMessage().contains("sqrt") && e.getMessage().contains("backward"), e.getMessage());
        } finally {
            Grad.setAnomalyDetection(false);
        }
    }

    @Test
    void anomalyModeAcceptsFiniteGraphs() {
        Tensor x = Tensor.randn(new Generator(7), 4, 5).requiresGrad(true);
        Tensor w = Tensor.randn(new Generator(8), 5, 3).requiresGrad(true);
        Grad.setAnomalyDetection(true);
        try {
            // gelu's backward divides by x internally (0/0 at x = 0) before fixing it up: not an anomaly.
            Tensor z = Tensor.of(new float[] {0, 1, -1}, 3).requiresGrad(true);
            z.gelu().sum().backward();
            assertEquals(0.5, z.grad().toFloatArray()[0], 1e-6);
            Tensor loss = Functional.crossEntropy(x.matmul(w).tanh(), Tensor.of(new long[] {0, 1, 2, 1}, 4));
            loss.backward();
            assertTrue(Double.isFinite(loss.item()));
        } finally {
            Grad.setAnomalyDetection(false);
        }
        assertTrue(w.grad() != null);
    }
}
