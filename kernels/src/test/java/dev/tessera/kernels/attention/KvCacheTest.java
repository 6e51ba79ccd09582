package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.assertClose;
import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.RowSubset;
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

    /**
     * Appending to and attending for a changing subset of the rows: each row's output equals the full causal forward
     * at its own next position, and rows outside the subset are neither read nor moved.
     */
    @Test
    void subsetStepsMatchFullCausalForwardPerRow() {
        int B = 5, Hq = 4, Hkv = 2, L = 16, P = 8;
        int[][] schedule = {{0, 1, 2, 3, 4}, {1, 2, 4}, {0}, {2, 3}, {0, 1, 3, 4}, {4}, {1, 2}, {0, 2, 3, 4}};
        for (int window : new int[] {-1, 3}) {
            try (Scope s = Scope.open(); KvCache cache = KvCache.create(B, Hkv, L, P, DType.F32)) {
                Tensor q = randn(11, B, Hq, L, P), k = randn(12, B, Hkv, L, P), v = randn(13, B, Hkv, L, P);
                AttentionOptions causal = AttentionOptions.builder().causal(true).window(window).build();
                Tensor full = FlashAttention.apply(q, k, v, causal);
                int[] at = new int[B];
                for (int round = 0; round < 3; round++) {
                    for (int[] rows : schedule) {
                        RowSubset subset = RowSubset.of(B, rows);
                        cache.append(pick(k, rows, at), pick(v, rows, at), subset);
                        Tensor out = cache.attend(pick(q, rows, at), causal, subset);
                        for (int j = 0; j < rows.length; j++) {
                            int b = rows[j];
                            assertEquals(at[b] + 1, cache.length(b));
                            assertClose("window " + window + ", row " + b + " position " + at[b],
                                    full.select(0, b).narrow(1, at[b], 1).contiguous().toDoubleArray(),
                                    out.select(0, j).contiguous().toDoubleArray(), 1e-5, 1e-4);
                            at[b]++;
                        }
                    }
                }
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> cache.append(pick(k, new int[] {0, 1}, new int[B]), pick(v, new int[] {0, 1}, new int[B]), RowSubset.of(B, 0)));
                org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("rows [0] of 5"), e.getMessage());
            }
        }
    }

    /** [n,H,1,P]: position at[r] of each listed row r. */
    private static Tensor pick(Tensor x, int[] rows, int[] at) {
        java.util.List<Tensor> out = new java.util.ArrayList<>();
        for (int r : rows) out.add(x.narrow(0, r, 1).narrow(2, at[r], 1));
        return Tensor.cat(out, 0);
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
