package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Batched byte-by-byte decoding reproduces the parallel forward's logits at every position. */
class HNetStepTest {
    private static void assertStepEqualsForward(String preset, long seed) {
        int b = 3, l = 24;
        try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(seed)); Scope s = Scope.open()) {
            Tensor bytes = Tensor.randint(new Generator(seed + 1), 0, 256, b, l);
            float[] full = m.forward(bytes).logits().toFloatArray();
            long[] v = bytes.toLongArray();
            int boundariesSeen = 0;
            try (HNet.StageState st = m.newDecodeState(b, l)) {
                for (int t = 0; t < l; t++) {
                    long[] col = new long[b];
                    for (int r = 0; r < b; r++) col[r] = v[r * l + t];
                    float[] step;
                    try (Scope in = Scope.open()) {
                        step = m.step(Tensor.of(col, b), st).toFloatArray();
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
    void twoStages() { assertStepEqualsForward("hnet-2stage-tiny", 21); }
}
