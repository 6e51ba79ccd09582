package dev.tessera.kernels.attention;

import dev.tessera.kernels.GradCheck;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Float64 central differences through the op (F64 runs the reference and its hand-written backward). */
class FlashAttentionGradCheckTest {
    private static Tensor r(long seed, int... shape) { return AttentionCheck.randn(seed, shape).to(DType.F64); }

    @Test
    void qkvCausalGqaWindow() {
        try (Scope s = Scope.open()) {
            GradCheck.check("causal gqa window", a -> FlashAttention.apply(a[0], a[1], a[2],
                    AttentionOptions.builder().causal(true).window(2).build()), r(1, 1, 2, 5, 3), r(2, 1, 1, 5, 3), r(3, 1, 1, 5, 3));
            GradCheck.check("bidirectional Lq<Lk", a -> FlashAttention.apply(a[0], a[1], a[2]), r(4, 2, 1, 3, 2), r(5, 2, 1, 4, 2), r(6, 2, 1, 4, 2));
        }
    }

    @Test
    void keyBias() {
        try (Scope s = Scope.open()) {
            GradCheck.check("bias [B,Lk]", a -> FlashAttention.apply(a[0], a[1], a[2], AttentionOptions.builder().causal(true).keyBias(a[3]).build()),
                    r(1, 2, 2, 4, 3), r(2, 2, 1, 4, 3), r(3, 2, 1, 4, 3), r(4, 2, 4));
            GradCheck.check("bias [B,Hq,Lk]", a -> FlashAttention.apply(a[0], a[1], a[2], AttentionOptions.builder().keyBias(a[3]).build()),
                    r(5, 1, 2, 3, 2), r(6, 1, 2, 4, 2), r(7, 1, 2, 4, 2), r(8, 1, 2, 4));
        }
    }

    /** log p: a non-increasing profile with values near 0, a mid value, and −∞ (clamp boundary avoided). */
    private static Tensor logp(int b, int l) {
        double[] x = new double[b * l];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < l; j++) x[i * l + j] = -0.3 * j - 0.1 * i;
        }
        x[b * l - 1] = Double.NEGATIVE_INFINITY;
        return Tensor.of(x, b, l);
    }

    @Test
    void existenceSelf() {
        try (Scope s = Scope.open()) {
            GradCheck.check("existence self", a -> ProbabilisticAttention.apply(a[0], a[1], a[2], a[3]),
                    r(1, 2, 2, 4, 3), r(2, 2, 2, 4, 3), r(3, 2, 2, 4, 3), logp(2, 4));
        }
    }

    @Test
    void existenceCross() {
        try (Scope s = Scope.open()) {
            GradCheck.check("existence cross", a -> ProbabilisticAttention.cross(a[0], a[1], a[2], a[3], a[4]),
                    r(1, 1, 2, 3, 3), r(2, 1, 1, 5, 3), r(3, 1, 1, 5, 3), logp(1, 3), logp(1, 5));
        }
    }
}
