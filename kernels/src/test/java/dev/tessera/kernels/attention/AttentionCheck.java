package dev.tessera.kernels.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/** Test helpers: random inputs, and the fast F32 op checked against {@link FlashAttentionReference}. */
final class AttentionCheck {
    private AttentionCheck() {}

    static final double ATOL = 2e-4, RTOL = 2e-3;

    static Tensor randn(long seed, int... shape) { return Tensor.randn(new Generator(seed), shape); }

    /** Asserts elementwise closeness (−∞ must match −∞) and that nothing is NaN. */
    static void assertClose(String what, double[] expected, double[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": length");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(a)) fail(what + "[" + i + "] is NaN (expected " + e + ")");
            if (Double.isInfinite(e) || Double.isInfinite(a)) {
                if (e != a) fail(what + "[" + i + "]: expected " + e + ", got " + a);
                continue;
            }
            double err = Math.abs(e - a) - rtol * Math.abs(e);
            if (err > worst) {
                worst = err;
                at = i;
            }
        }
        if (worst > atol) fail(what + "[" + at + "]: expected " + expected[at] + ", got " + actual[at] + " (beyond tolerance by " + worst + ")");
    }

    static void assertClose(String what, Tensor expected, Tensor actual) {
        assertClose(what, expected.toDoubleArray(), actual.toDoubleArray(), ATOL, RTOL);
    }

    /**
     * Runs the fast op (F32, with autograd) and the reference on the same inputs and compares the output, the
     * logsumexp and every gradient. {@code q, k, v} and the option tensors must be fresh F32 leaves.
     */
    static void againstReference(String name, Tensor q, Tensor k, Tensor v, AttentionOptions o) {
        try (Scope s = Scope.open()) {
            Tensor[] leaves = {q, k, v, o.keyBias(), o.logpQ(), o.logpK()};
            for (Tensor t : leaves) if (t != null) { t.zeroGrad(); t.requiresGrad(true); }
            FlashAttention.Result fast = FlashAttention.forward(q, k, v, o);
            Tensor dOut = randn(7, fast.output().shape());
            fast.output().backward(dOut);
            FlashAttention.Result ref = FlashAttentionReference.forward(q, k, v, o);
            FlashAttentionReference.Gradients g = FlashAttentionReference.backward(q, k, v, o, dOut);
            assertClose(name + " output", ref.output(), fast.output());
            assertClose(name + " logsumexp", ref.logsumexp(), fast.logsumexp());
            assertEquals(DType.F32, fast.logsumexp().dtype(), name + ": logsumexp is fp32");
            assertClose(name + " dq", g.dq(), q.grad());
            assertClose(name + " dk", g.dk(), k.grad());
            assertClose(name + " dv", g.dv(), v.grad());
            if (o.keyBias() != null) assertClose(name + " dKeyBias", g.dKeyBias(), o.keyBias().grad());
            if (o.logpQ() != null) {
                if (o.logpQ() == o.logpK()) {
                    assertClose(name + " dLogp", g.dLogpQ().add(g.dLogpK()), o.logpQ().grad());
                } else {
                    assertClose(name + " dLogpQ", g.dLogpQ(), o.logpQ().grad());
                    assertClose(name + " dLogpK", g.dLogpK(), o.logpK().grad());
                }
            }
            for (Tensor t : leaves) {
                if (t != null && t.grad() != null) {
                    assertTrue(!Double.isNaN(t.grad().sum().item()), name + ": NaN gradient");
                    t.zeroGrad();
                }
            }
        }
    }
}
