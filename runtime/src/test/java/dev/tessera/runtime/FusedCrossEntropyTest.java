package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The CPU's fused cross entropy (one kernel forward, one backward) against the composition it replaced, log-softmax
 * and gather, in F32 (SIMD rows and their scalar tails) and F64: losses and gradients, ignored rows, rows with −inf
 * logits, large logits.
 */
class FusedCrossEntropyTest {
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() { scope.close(); }

    /** Per-row losses and the gradient of their weighted sum, from the fused op or from the composition. */
    private static double[][] lossAndGradient(Tensor logitsIn, long[] t, long ignore, Tensor weights, boolean fused) {
        Tensor logits = logitsIn.detach().requiresGrad(true);
        int c = logits.size(logits.dim() - 1), rows = t.length;
        Tensor loss;
        if (fused) {
            loss = Functional.crossEntropy(logits, Tensor.of(t, rows), ignore, Functional.Reduction.NONE);
        } else {
            long[] safe = t.clone();
            float[] keep = new float[rows];
            for (int i = 0; i < rows; i++) {
                keep[i] = t[i] == ignore ? 0 : 1;
                if (t[i] == ignore) safe[i] = 0;
            }
            Tensor picked = logits.reshape(rows, c).logSoftmax(-1).gather(1, Tensor.of(safe, rows, 1)).reshape(rows);
            loss = picked.mul(Tensor.of(keep, rows).to(logits.dtype())).neg();
        }
        loss.mul(weights).sum().backward();
        return new double[][] {loss.to(DType.F64).toDoubleArray(), logits.grad().to(DType.F64).toDoubleArray()};
    }

    private static void compare(DType dtype, int rows, int c, long seed, double tol) {
        Generator gen = new Generator(seed);
        Tensor logits = Tensor.randn(gen, rows, c).mul(4).to(dtype);
        long[] t = new long[rows];
        for (int i = 0; i < rows; i++) t[i] = (i * 7919L + seed) % c;
        t[1] = -100; // ignored
        try (Grad.Region g = Grad.noGrad()) {
            logits.narrow(0, 2, 1).narrow(1, 0, c / 2).fill(Double.NEGATIVE_INFINITY); // half a row impossible
            t[2] = c - 1;
            Tensor large = logits.narrow(0, 3, 1);
            large.copyFrom(large.add(80)); // large logits: the maximum is subtracted first
        }
        Tensor weights = Tensor.randn(new Generator(seed + 1), rows).to(dtype);
        double[][] fused = lossAndGradient(logits, t, -100, weights, true), composed = lossAndGradient(logits, t, -100, weights, false);
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < fused[k].length; i++) {
                double want = composed[k][i];
                assertEquals(want, fused[k][i], tol * Math.max(1, Math.abs(want)), (k == 0 ? "loss " : "gradient ") + i + " (" + dtype + ", c " + c + ")");
            }
        }
        assertEquals(0, fused[0][1], 0, "an ignored row's loss");
        for (int j = 0; j < c; j++) assertEquals(0, fused[1][c + j], 0, "an ignored row's gradient");
        for (int j = 0; j < c / 2; j++) assertEquals(0, fused[1][2 * c + j], 0, "the gradient of a −inf logit");
        for (double v : fused[1]) assertTrue(Double.isFinite(v));
    }

    @Test
    void f32RowsOfWholeVectorsAndOfTails() {
        compare(DType.F32, 9, 256, 1, 2e-6); // the byte models' vocabulary
        compare(DType.F32, 6, 37, 2, 2e-6);  // a scalar tail after the vectors
        compare(DType.F32, 5, 7, 3, 2e-6);   // shorter than one vector
    }

    @Test
    void f64Rows() {
        compare(DType.F64, 7, 256, 4, 1e-13);
        compare(DType.F64, 5, 11, 5, 1e-13);
    }

    @Test
    void theFusedKernelRunsOnTheCpu() {
        Tensor logits = Tensor.randn(new Generator(6), 4, 16).requiresGrad(true);
        Profiler.reset();
        Profiler.enable();
        try {
            Functional.crossEntropy(logits, Tensor.of(new long[] {1, 2, 3, 4}, 4)).backward();
        } finally {
            Profiler.disable();
        }
        var ops = Profiler.snapshot();
        Profiler.reset();
        assertTrue(ops.containsKey("cross_entropy") && ops.containsKey("cross_entropy_backward"), ops.keySet().toString());
        assertTrue(!ops.containsKey("log_softmax"), "no log-softmax pass");
    }
}
