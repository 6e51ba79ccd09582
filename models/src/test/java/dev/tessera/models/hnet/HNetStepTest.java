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
        int b = bytes.size(0), l = bytes.size(1);
        try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(seed)); Scope s = Scope.open()) {
            m.castTo(dtype);
            float[] full = m.forward(bytes).logits().to(DType.F32).toFloatArray();
            long[] v = bytes.toLongArray();
            int boundariesSeen = 0;
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
                            assertEquals(want, got, 1e-3f + 1e-3f * Math.abs(want), preset + " row " + r + " position " + t + " logit " + k);
                        }
                    }
                }
            }
            for (var r : m.forward(bytes).routings()) boundariesSeen += (int) r.b().to(dev.tessera.runtime.DType.F32).sum().item();
            assertTrue(boundariesSeen > b, "the test exercises several chunks: " + boundariesSeen);
        }
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
