package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.baseline.IsotropicConfig;
import dev.tessera.runtime.Generator;
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
