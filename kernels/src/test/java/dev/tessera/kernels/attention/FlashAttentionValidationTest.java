package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad inputs fail with IllegalArgumentException naming the argument and the shapes. */
class FlashAttentionValidationTest {
    private static void bad(String mention, Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains(mention), "message '" + ex.getMessage() + "' should mention '" + mention + "'");
    }

    @Test
    void rejectsBadInputs() {
        try (Scope s = Scope.open()) {
            Tensor q = randn(1, 2, 4, 8, 16), k = randn(2, 2, 2, 8, 16), v = randn(3, 2, 2, 8, 16);
            AttentionOptions d = AttentionOptions.defaults();
            bad("[2, 4, 8]", () -> FlashAttention.apply(q.select(3, 0), k, v, d));
            bad("must have the same shape", () -> FlashAttention.apply(q, k, randn(4, 2, 2, 9, 16), d));
            bad("head dim", () -> FlashAttention.apply(q, randn(5, 2, 2, 8, 8), randn(6, 2, 2, 8, 8), d));
            bad("multiple of key/value heads", () -> FlashAttention.apply(q, randn(5, 2, 3, 8, 16), randn(6, 2, 3, 8, 16), d));
            bad("share a dtype", () -> FlashAttention.apply(q, k.to(DType.F64), v, d));
            bad("keyBias", () -> FlashAttention.apply(q, k, v, AttentionOptions.builder().keyBias(randn(7, 2, 9)).build()));
            bad("window", () -> FlashAttention.apply(q, k, v, AttentionOptions.builder().window(-2).build()));
            bad("cuSeqlens", () -> FlashAttention.apply(q, k, v, AttentionOptions.builder().cuSeqlens(0, 3, 7).build()));
            bad("cuSeqlens", () -> FlashAttention.apply(q, k, v, AttentionOptions.builder().cuSeqlens(0, 5, 3, 8).build()));
            bad("keyLengths", () -> FlashAttention.apply(q, k, v, AttentionOptions.builder().keyLengths(8, 9).build()));
            bad("keyLengths", () -> FlashAttention.apply(q, k, v, AttentionOptions.builder().keyLengths(8).build()));
            bad("logp of the keys", () -> ProbabilisticAttention.cross(q, k, v, randn(8, 2, 8), randn(9, 2, 7)));
            bad("Lq = Lk", () -> ProbabilisticAttention.apply(randn(1, 2, 4, 3, 16), k, v, randn(8, 2, 3)));
            bad("F32 or F64", () -> FlashAttention.apply(q.to(DType.I32), k.to(DType.I32), v.to(DType.I32), d));
            bad("required", () -> FlashAttention.apply(null, k, v, d));
        }
    }
}
