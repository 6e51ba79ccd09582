package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.baseline.IsotropicConfig;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ByteSamplerTest {
    @Test
    void greedyPicksTheLargestLogitAndTopPCutsTheTail() {
        float[] logits = new float[256];
        logits[7] = 10;
        logits[9] = 9;
        assertEquals(7, ByteSampler.pick(logits, new ByteSampler.Settings(1, 0, 1), 0.99f));
        // top-p 0.5 keeps only byte 7 (its probability is about 0.73), whatever the uniform draw
        for (float u : new float[] {0f, 0.5f, 0.999f}) assertEquals(7, ByteSampler.pick(logits, new ByteSampler.Settings(1, 1, 0.5), u));
        // without a cut, a draw near 1 lands past bytes 7 and 9
        int tail = ByteSampler.pick(logits, new ByteSampler.Settings(1, 1, 1), 0.9999f);
        assertTrue(tail != 7 && tail != 9, "tail byte " + tail);
    }

    /** The nucleus order equals a stable sort by descending probability (ties in index order), for any length. */
    @Test
    void probabilityOrderIsAStableDescendingSort() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        for (int n : new int[] {1, 2, 3, 7, 64, 255, 256, 300}) {
            for (int trial = 0; trial < 20; trial++) {
                double[] p = new double[n];
                for (int i = 0; i < n; i++) p[i] = trial % 2 == 0 ? r.nextInt(6) / 5.0 : r.nextDouble(); // many ties, or none
                Integer[] expected = new Integer[n];
                for (int i = 0; i < n; i++) expected[i] = i;
                java.util.Arrays.sort(expected, (a, b) -> Double.compare(p[b], p[a]));
                int[] got = ByteSampler.byDescendingProbability(p);
                for (int i = 0; i < n; i++) assertEquals(expected[i].intValue(), got[i], "n " + n + " trial " + trial + " position " + i);
            }
        }
    }

    /** Sorting only the candidates above a floor picks the same byte as sorting all 256, for sharp and flat logits. */
    @Test
    void nucleusFromTheCandidatesEqualsTheFullSort() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(9);
        for (int trial = 0; trial < 400; trial++) {
            float[] logits = new float[256];
            double spread = new double[] {0.1, 1, 4, 12}[trial % 4];
            for (int i = 0; i < 256; i++) logits[i] = (float) (r.nextGaussian() * spread);
            if (trial % 5 == 0) logits[r.nextInt(256)] += 15; // one dominant byte
            ByteSampler.Settings settings = new ByteSampler.Settings(1, new double[] {0.7, 1.0, 1.3}[trial % 3],
                    new double[] {0.5, 0.9, 0.95, 1.0}[trial % 4]);
            for (float u : new float[] {0f, 0.3f, 0.77f, 0.9999f}) {
                assertEquals(pickByFullSort(logits, settings, u), ByteSampler.pick(logits, settings, u), "trial " + trial + " u " + u);
            }
        }
    }

    /** NaN logits (a diverged model, or a dry-run device's), flat ones and a tiny top-p still draw the byte the full sort draws. */
    @Test
    void degenerateLogitsStillDrawAByte() {
        float[] nan = new float[256];
        java.util.Arrays.fill(nan, Float.NaN);
        float[] sharp = new float[256];
        sharp[3] = 20;
        for (float[] logits : List.of(nan, sharp, new float[256])) {
            for (double topP : new double[] {1e-9, 0.95, 1}) {
                ByteSampler.Settings settings = new ByteSampler.Settings(1, 1, topP);
                for (float u : new float[] {0f, 0.5f, 0.9999f}) assertEquals(pickByFullSort(logits, settings, u), ByteSampler.pick(logits, settings, u));
            }
        }
    }

    @Test
    void onlyLogitsWithAFiniteValueAndNoNaNOrPlusInfinityCanBeSampled() {
        float[] ok = new float[256];
        assertTrue(ByteSampler.samplable(ok));
        java.util.Arrays.fill(ok, Float.NEGATIVE_INFINITY);
        assertFalse(ByteSampler.samplable(ok), "all −∞: no byte has any probability");
        ok[9] = -3;
        assertTrue(ByteSampler.samplable(ok), "−∞ elsewhere is a mask, not a fault");
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            float[] row = new float[256];
            row[200] = bad;
            assertFalse(ByteSampler.samplable(row), "a " + bad + " logit");
        }
    }

    /** The nucleus sampling of {@link ByteSampler#pick} written plainly: every index sorted. */
    private static int pickByFullSort(float[] logits, ByteSampler.Settings settings, float u) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : logits) max = Math.max(max, x);
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp((logits[i] - max) / settings.temperature());
        Integer[] order = new Integer[p.length];
        for (int i = 0; i < p.length; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        int keep = 0;
        double mass = 0;
        while (keep < p.length && (keep == 0 || mass < settings.topP() * sum)) mass += p[order[keep++]];
        double target = u * mass, acc = 0;
        for (int k = 0; k < keep; k++) {
            acc += p[order[k]];
            if (target < acc) return order[k];
        }
        return order[keep - 1];
    }

    @Test
    void batchedPromptsOfDifferentLengthsMatchOneAtATime() {
        try (ByteLanguageModel m = ModelCatalog.create("hnet-tiny", new Generator(1))) {
            List<byte[]> prompts = List.of("ab".getBytes(), "longer prompt".getBytes());
            ByteSampler.Settings greedy = new ByteSampler.Settings(6, 0, 1);
            List<byte[]> batched = ByteSampler.generate(m, prompts, greedy, new Generator(2));
            for (int i = 0; i < prompts.size(); i++) {
                byte[] alone = ByteSampler.generate(m, List.of(prompts.get(i)), greedy, new Generator(2)).get(0);
                assertEquals(new String(alone, java.nio.charset.StandardCharsets.ISO_8859_1),
                        new String(batched.get(i), java.nio.charset.StandardCharsets.ISO_8859_1), "prompt " + i);
            }
        }
    }

    /** A sink sees every sampled byte of every row, in order, as drawn; the result and draws are the same without one. */
    @Test
    void sinkReceivesEachByteAsItIsSampled() {
        try (ByteLanguageModel m = ModelCatalog.create("hnet-tiny", new Generator(1))) {
            List<byte[]> prompts = List.of("ab".getBytes(), "longer prompt".getBytes(), "".getBytes());
            ByteSampler.Settings sampled = new ByteSampler.Settings(9, 1.0, 0.9);
            java.util.List<java.io.ByteArrayOutputStream> seen = List.of(new java.io.ByteArrayOutputStream(),
                    new java.io.ByteArrayOutputStream(), new java.io.ByteArrayOutputStream());
            int[] calls = new int[1];
            List<byte[]> withSink = ByteSampler.generate(m, prompts, sampled, new Generator(5), (row, b) -> {
                seen.get(row).write(b);
                calls[0]++;
            });
            List<byte[]> without = ByteSampler.generate(m, prompts, sampled, new Generator(5));
            int total = 0;
            for (int i = 0; i < prompts.size(); i++) {
                assertTrue(java.util.Arrays.equals(withSink.get(i), seen.get(i).toByteArray()), "row " + i);
                assertTrue(java.util.Arrays.equals(withSink.get(i), without.get(i)), "row " + i);
                total += withSink.get(i).length;
            }
            assertEquals(total, calls[0]);
            assertTrue(total > 0);
        }
    }

    /** Every family's decoder: prefill returns the forward's logits after each row's bytes, and steps go on from there. */
    @Test
    void decodersPrefillThenStepLikeTheForward() {
        for (String preset : List.of("transformer-tiny", "mamba-tiny", "hnet-2stage-tiny")) {
            try (ByteLanguageModel m = ModelCatalog.create(preset, new Generator(4)); Scope s = Scope.open()) {
                m.module().eval();
                int b = 3, l = 20;
                Tensor bytes = Tensor.randint(new Generator(5), 0, 256, b, l);
                float[] full = m.forward(bytes).logits().toFloatArray();
                long[] v = bytes.toLongArray();
                int[] prefix = {3, 1, 12};
                long[][] rows = new long[b][];
                for (int r = 0; r < b; r++) rows[r] = java.util.Arrays.copyOfRange(v, r * l, r * l + prefix[r]);
                try (ByteLanguageModel.Decoder dec = m.newDecoder(b, l)) {
                    float[] got = dec.prefill(rows).toFloatArray();
                    for (int step = 0; ; step++) {
                        for (int r = 0; r < b; r++) {
                            int t = prefix[r] - 1 + step;
                            for (int k = 0; k < 256; k++) {
                                float want = full[(r * l + t) * 256 + k];
                                assertEquals(want, got[r * 256 + k], 1e-3f + 1e-3f * Math.abs(want), preset + " row " + r + " position " + t);
                            }
                        }
                        if (prefix[2] + step >= l) break;
                        long[] col = new long[b];
                        for (int r = 0; r < b; r++) col[r] = v[r * l + prefix[r] + step];
                        got = dec.step(Tensor.of(col, b)).toFloatArray();
                    }
                    assertThrows(IllegalArgumentException.class, () -> dec.prefill(new long[][] {{1}, {}, {2}}));
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dec.prefill(new long[][] {{1}, new long[l + 1], {2}}));
                    assertTrue(e.getMessage().contains("row 1 has " + (l + 1) + " bytes"), e.getMessage());
                }
            }
        }
    }

    @Test
    void baselineConfigsRoundTripAndBuild() {
        for (String name : List.of("transformer-tiny", "mamba-tiny")) {
            IsotropicConfig c = IsotropicConfig.preset(name);
            assertEquals(c, IsotropicConfig.fromJson(c.toJson()));
            try (ByteLanguageModel m = ModelCatalog.fromConfig("isotropic", c.toJson(), new Generator(3))) {
                assertEquals(0, m.stages());
                assertTrue(m.module().namedParameters().containsKey("backbone.layers.0.norm1.weight"), m.module().namedParameters().keySet().toString());
                assertTrue(m.module().namedParameters().containsKey("lm_head.weight"));
            }
        }
    }
}
