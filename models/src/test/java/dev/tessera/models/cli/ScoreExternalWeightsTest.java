package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.tessera.models.hnet.HNetConfig;
import dev.tessera.models.hnet.HNetLM;
import dev.tessera.nn.SafeTensors;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code score --config --weights}: weights from elsewhere, in the reference layout, give the model's own logits. */
class ScoreExternalWeightsTest {
    @TempDir
    Path dir;

    @Test
    void scoresAConfigWithReferenceLayoutWeights() throws Exception {
        HNetConfig cfg = HNetConfig.preset("hnet-tiny");
        Path config = dir.resolve("config.json"), weights = dir.resolve("model.safetensors"), out = dir.resolve("score.safetensors");
        Files.writeString(config, cfg.toJson());
        String text = "To be, or not to be";
        float[] expected;
        try (HNetLM m = new HNetLM(cfg, new Generator(77)); Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            SafeTensors.write(weights, m.stateDict(), Map.of()); // only tensors under the reference names
            m.eval();
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            long[] in = new long[b.length];
            for (int i = 0; i < b.length; i++) in[i] = b[i] & 0xFF;
            expected = m.forward(Tensor.of(in, 1, b.length)).logits().toFloatArray();
        }
        assertEquals(0, TesseraCli.run("score", "--config", config.toString(), "--weights", weights.toString(), "--text", text,
                "--out", out.toString()));
        try (Scope s = Scope.open()) {
            assertArrayEquals(expected, SafeTensors.read(out).get("logits").toFloatArray());
        }
        Path wrong = dir.resolve("wrong.json");
        Files.writeString(wrong, HNetConfig.preset("hnet-2stage-tiny").toJson());
        assertNotEquals(0, TesseraCli.run("score", "--config", wrong.toString(), "--weights", weights.toString(), "--text", text,
                "--out", out.toString()), "weights of another model are refused");
    }
}
