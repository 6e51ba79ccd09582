package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.assertClose;
import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Decoding with a KV cache equals the full causal forward at every position, with rows of different lengths. */
class KvCacheTest {
    @Test
    void batchedDecodeMatchesFullCausalForward() {
        int B = 3, Hq = 4, Hkv = 2, L = 40, P = 8;
        int[] prompt = {5, 1, 12};
        for (int window : new int[] {-1, 6}) {
            try (Scope s = Scope.open(); KvCache cache = KvCache.create(B, Hkv, L, P, DType.F32)) {
                Tensor q = randn(1, B, Hq, L, P), k = randn(2, B, Hkv, L, P), v = randn(3, B, Hkv, L, P);
                AttentionOptions causal = AttentionOptions.builder().causal(true).window(window).build();
                Tensor full = FlashAttention.apply(q, k, v, causal);
                // Prefill: each row takes its own prompt length; the queries are the prompt's last positions.
                int t0 = 12;
                cache.append(k.narrow(2, 0, t0), v.narrow(2, 0, t0), prompt);
                // Queries are each row's last t0 positions: right-align every row's prompt queries (the padding rows
                // sit at negative positions, see no key and must come out 0).
                java.util.List<Tensor> aligned = new java.util.ArrayList<>();
                for (int b = 0; b < B; b++) {
                    Tensor pad = Tensor.zeros(1, Hq, t0 - prompt[b], P);
                    aligned.add(Tensor.cat(java.util.List.of(pad, q.narrow(0, b, 1).narrow(2, 0, prompt[b])), 2));
                }
                Tensor prefill = cache.attend(Tensor.cat(aligned, 0), causal);
                for (int b = 0; b < B; b++) {
                    for (double x : prefill.select(0, b).narrow(1, 0, t0 - prompt[b]).contiguous().toDoubleArray()) assertEquals(0.0, x);
                    Tensor out = prefill.select(0, b).narrow(1, t0 - prompt[b], prompt[b]);
                    assertClose("prefill row " + b, full.select(0, b).narrow(1, 0, prompt[b]).contiguous().toDoubleArray(),
                            out.contiguous().toDoubleArray(), 1e-5, 1e-4);
                }
                // Then one token per step; row b is at position prompt[b] + step.
                int steps = L - 12;
                for (int step = 0; step < steps; step++) {
                    Tensor kStep = gather(k, prompt, step), vStep = gather(v, prompt, step), qStep = gather(q, prompt, step);
                    cache.append(kStep, vStep);
                    Tensor out = cache.attend(qStep, causal);
                    for (int b = 0; b < B; b++) {
                        assertEquals(prompt[b] + step + 1, cache.length(b));
                        assertClose("row " + b + " position " + (prompt[b] + step),
                                full.select(0, b).narrow(1, prompt[b] + step, 1).contiguous().toDoubleArray(),
                                out.select(0, b).contiguous().toDoubleArray(), 1e-5, 1e-4);
                    }
                }
            }
        }
    }

    /** [B,H,1,P]: position prompt[b] + step of each row. */
    private static Tensor gather(Tensor x, int[] prompt, int step) {
        java.util.List<Tensor> rows = new java.util.ArrayList<>();
        for (int b = 0; b < prompt.length; b++) rows.add(x.narrow(0, b, 1).narrow(2, prompt[b] + step, 1));
        return Tensor.cat(rows, 0);
    }

    @Test
    void capacityAndShapesAreChecked() {
        try (Scope s = Scope.open(); KvCache cache = KvCache.create(1, 1, 2, 4, DType.F32)) {
            cache.step(randn(1, 1, 1, 1, 4), randn(2, 1, 1, 1, 4), randn(3, 1, 1, 1, 4));
            cache.append(randn(2, 1, 1, 1, 4), randn(3, 1, 1, 1, 4));
            assertThrows(IllegalStateException.class, () -> cache.append(randn(2, 1, 1, 1, 4), randn(3, 1, 1, 1, 4)));
            assertThrows(IllegalArgumentException.class, () -> cache.append(randn(2, 1, 1, 1, 5), randn(3, 1, 1, 1, 5)));
        }
    }
}
