package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Batched byte-by-byte decoding reproduces the parallel forward's logits at every position. */
class HNetStepTest {
    private static void assertStepEqualsForward(String preset, long seed) {
        assertStepEqualsForward(preset, seed, Tensor.randint(new Generator(seed + 1), 0, 256, 3, 24));
    }

    private static void assertStepEqualsForward(String preset, long seed, Tensor bytes) {
        assertStepEqualsForward(preset, seed, bytes, DType.F32);
    }

    private static void assertStepEqualsForward(String preset, long seed, Tensor bytes, DType dtype) {
        int b = bytes.size(0);
        try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(seed)); Scope s = Scope.open()) {
            m.castTo(dtype);
            String mismatch = stepMismatch(m, bytes);
            assertTrue(mismatch == null, preset + " " + mismatch);
            int boundariesSeen = 0;
            for (var r : m.forward(bytes).routings()) boundariesSeen += (int) r.b().to(dev.tessera.runtime.DType.F32).sum().item();
            assertTrue(boundariesSeen > b, "the test exercises several chunks: " + boundariesSeen);
        }
    }

    /**
     * Decodes {@code bytes} [B, L] one column at a time from a fresh state: null when every position's logits equal
     * the parallel forward's (to 1e-3 absolute and relative), else the first that does not.
     */
    static String stepMismatch(HNetLM m, Tensor bytes) {
        int b = bytes.size(0), l = bytes.size(1);
        float[] full = m.forward(bytes).logits().to(DType.F32).toFloatArray();
        long[] v = bytes.toLongArray();
        try (HNet.StageState st = m.newDecodeState(b, l)) {
            for (int t = 0; t < l; t++) {
                long[] col = new long[b];
                for (int r = 0; r < b; r++) col[r] = v[r * l + t];
                float[] step;
                try (Scope in = Scope.open()) {
                    step = m.step(Tensor.of(col, b), st).to(DType.F32).toFloatArray();
                }
                for (int r = 0; r < b; r++) {
                    for (int k = 0; k < 256; k++) {
                        float want = full[(r * l + t) * 256 + k], got = step[r * 256 + k];
                        if (!(Math.abs(want - got) <= 1e-3f + 1e-3f * Math.abs(want))) {
                            return "row " + r + " position " + t + " logit " + k + ": step " + got + ", forward " + want;
                        }
                    }
                }
            }
        }
        return null;
    }

    /**
     * Each row reads its first bytes in one parallel pass (prefixes of different lengths), then all rows step on
     * together: the logits equal the parallel forward's at every position, prefix and steps alike.
     */
    private static void assertPrefillThenStepEqualsForward(String preset, long seed, Tensor bytes, DType dtype, int[] prefix) {
        int b = bytes.size(0), l = bytes.size(1);
        try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(seed)); Scope s = Scope.open()) {
            m.castTo(dtype);
            float[] full = m.forward(bytes).logits().to(DType.F32).toFloatArray();
            long[] v = bytes.toLongArray();
            try (HNet.StageState st = m.newDecodeState(b, l)) {
                for (int r = 0; r < b; r++) {
                    float[] pre = m.prefill(Tensor.of(java.util.Arrays.copyOfRange(v, r * l, r * l + prefix[r]), prefix[r]), st, r)
                            .to(DType.F32).toFloatArray();
                    for (int t = 0; t < prefix[r]; t++) assertLogits(preset + " prefill", full, pre, r, t, l, t);
                }
                int from = java.util.Arrays.stream(prefix).min().orElseThrow();
                int[] at = prefix.clone();
                for (int step = 0; step < l - from; step++) {
                    // Rows step together; a row already at the end repeats its last byte (its logits are not checked).
                    long[] col = new long[b];
                    for (int r = 0; r < b; r++) col[r] = v[r * l + Math.min(at[r], l - 1)];
                    float[] out;
                    try (Scope in = Scope.open()) {
                        out = m.step(Tensor.of(col, b), st).to(DType.F32).toFloatArray();
                    }
                    for (int r = 0; r < b; r++) {
                        if (at[r] < l) assertLogits(preset + " step", full, out, r, at[r], l, r);
                        at[r]++;
                    }
                }
            }
        }
    }

    private static void assertLogits(String what, float[] full, float[] got, int row, int t, int l, int gotRow) {
        for (int k = 0; k < 256; k++) {
            float want = full[(row * l + t) * 256 + k], g = got[gotRow * 256 + k];
            assertEquals(want, g, 1e-3f + 1e-3f * Math.abs(want), what + " row " + row + " position " + t + " logit " + k);
        }
    }

    @Test
    void prefillThenStep() {
        Tensor bytes = Tensor.randint(new Generator(52), 0, 256, 3, 24);
        assertPrefillThenStepEqualsForward("hnet-tiny", 51, bytes, DType.F32, new int[] {1, 9, 17});
        assertPrefillThenStepEqualsForward("hnet-2stage-tiny", 53, bytes, DType.F32, new int[] {13, 2, 24});
        assertPrefillThenStepEqualsForward("hnet-tiny", 55, bytes, DType.F64, new int[] {5, 3, 20});
        assertPrefillThenStepEqualsForward("hnet-tiny-whitespace", 57, WhitespaceRoutingTest.bytesOf(WhitespaceRoutingTest.TEXTS), DType.F32,
                new int[] {4, 11, 7});
    }

    @Test
    void oneStage() { assertStepEqualsForward("hnet-tiny", 11); }

    @Test
    void whitespaceRouted() { assertStepEqualsForward("hnet-tiny-whitespace", 31, WhitespaceRoutingTest.bytesOf(WhitespaceRoutingTest.TEXTS)); }

    /** The decoding state takes the model's dtype (it was always F32, so an F64 model could not decode). */
    @Test
    void float64Model() { assertStepEqualsForward("hnet-tiny", 41, Tensor.randint(new Generator(42), 0, 256, 2, 20), DType.F64); }

    @Test
    void twoStages() { assertStepEqualsForward("hnet-2stage-tiny", 21); }
}
