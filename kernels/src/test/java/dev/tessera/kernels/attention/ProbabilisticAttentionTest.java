package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.againstReference;
import static dev.tessera.kernels.attention.AttentionCheck.assertClose;
import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Zonkey's existence mode (arXiv 2601.21768) of the fast kernel against the reference, and its special cases. */
class ProbabilisticAttentionTest {
    /** Existence log p = log Π (1 − p_bos) with p_bos from {near 0, mid, near 1}; some rows end in −∞. */
    static Tensor logp(long seed, int b, int l, int deadFrom) {
        double[] u = randn(seed, b, l).toDoubleArray();
        double[] x = new double[b * l];
        for (int i = 0; i < b; i++) {
            double acc = 0;
            for (int j = 0; j < l; j++) {
                double pBos = j == 0 ? 0 : switch ((int) Math.abs(u[i * l + j] * 3) % 3) {
                    case 0 -> 1e-7;
                    case 1 -> 0.3;
                    default -> 1 - 1e-6;
                };
                acc += Math.log1p(-pBos);
                x[i * l + j] = j >= deadFrom && i == b - 1 ? Double.NEGATIVE_INFINITY : acc;
            }
        }
        return Tensor.of(x, b, l).to(dev.tessera.runtime.DType.F32);
    }

    @Test
    void selfAgainstReference() {
        try (Scope s = Scope.open()) {
            int L = 83;
            againstReference("existence self", randn(1, 2, 2, L, 16), randn(2, 2, 2, L, 16), randn(3, 2, 2, L, 16),
                    AttentionOptions.builder().existence(logp(4, 2, L, 50)).build());
            againstReference("existence + GQA + bias", randn(5, 2, 4, L, 8), randn(6, 2, 2, L, 8), randn(7, 2, 2, L, 8),
                    AttentionOptions.builder().existence(logp(8, 2, L, 70)).keyBias(randn(9, 2, L)).build());
        }
    }

    @Test
    void crossAgainstReference() {
        try (Scope s = Scope.open()) {
            againstReference("existence cross", randn(1, 2, 2, 30, 8), randn(2, 2, 2, 75, 8), randn(3, 2, 2, 75, 8),
                    AttentionOptions.builder().existence(logp(4, 2, 30, 20), logp(5, 2, 75, 60)).build());
        }
    }

    @Test
    void extremeProbabilities() {
        try (Scope s = Scope.open()) {
            int L = 8;
            // p = 1, p just below 1, p = 1e-30 (below the clamp), p = 1e-20 (at it), p = 0.
            float[] lp = {0f, -1e-7f, -0.5f, (float) Math.log(1e-30), (float) Math.log(1e-20), -40f,
                Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
            Tensor logp = Tensor.of(lp, 1, L);
            againstReference("extreme p", randn(1, 1, 2, L, 4), randn(2, 1, 2, L, 4), randn(3, 1, 2, L, 4),
                    AttentionOptions.builder().existence(logp).build());
            Tensor q = randn(1, 1, 2, L, 4), k = randn(2, 1, 2, L, 4), v = randn(3, 1, 2, L, 4);
            q.requiresGrad(true);
            logp.requiresGrad(true);
            Tensor out = ProbabilisticAttention.apply(q, k, v, logp);
            out.sum().backward();
            double[] o = out.toDoubleArray(), dq = q.grad().toDoubleArray(), dl = logp.grad().toDoubleArray();
            for (int h = 0; h < 2; h++) {
                for (int i = 6; i < 8; i++) { // queries that do not exist: zero output and gradient
                    for (int p = 0; p < 4; p++) {
                        assertEquals(0.0, o[(h * L + i) * 4 + p]);
                        assertEquals(0.0, dq[(h * L + i) * 4 + p]);
                    }
                }
            }
            for (double x : dl) assertTrue(Double.isFinite(x), "finite log p gradient");
            assertEquals(0.0, dl[3], "no gradient through the clamp");
            assertEquals(0.0, dl[6]);
            assertEquals(0.0, dl[7]);
        }
    }

    @Test
    void allExistingEqualsPlainAttention() {
        try (Scope s = Scope.open()) {
            Tensor q = randn(1, 1, 2, 20, 8), k = randn(2, 1, 2, 20, 8), v = randn(3, 1, 2, 20, 8);
            Tensor a = ProbabilisticAttention.apply(q, k, v, Tensor.zeros(1, 20));
            assertClose("p = 1 everywhere", FlashAttention.apply(q, k, v).toDoubleArray(), a.toDoubleArray(), 1e-6, 1e-5);
        }
    }

    @Test
    void packedWithExistence() {
        try (Scope s = Scope.open()) {
            againstReference("existence packed", randn(1, 1, 2, 40, 8), randn(2, 1, 2, 40, 8), randn(3, 1, 2, 40, 8),
                    AttentionOptions.builder().existence(logp(4, 1, 40, 99)).cuSeqlens(0, 13, 40).build());
        }
    }
}
