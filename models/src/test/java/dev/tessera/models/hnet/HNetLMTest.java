package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class HNetLMTest {
    private static Tensor randomBytes(long seed, int b, int l) {
        try (Scope s = Scope.open()) {
            return s.keep(Tensor.randint(new Generator(seed), 0, 256, b, l));
        }
    }

    @Test
    void tinyOneStageForwardBackwardAndNames() {
        try (HNetLM m = new HNetLM(HNetConfig.preset("hnet-tiny"), new Generator(1)); Scope s = Scope.open()) {
            Tensor x = randomBytes(2, 2, 33), y = randomBytes(3, 2, 33);
            HNetLM.Output out = m.forward(x);
            assertArrayEquals(new int[] {2, 33, 256}, out.logits().shape());
            assertEquals(1, out.routings().size());
            HNetLM.Loss loss = m.loss(x, y);
            loss.total().backward();
            for (var e : m.namedParameters().entrySet()) {
                assertTrue(e.getValue().grad() != null, "gradient reaches " + e.getKey());
            }
            var names = m.namedParameters().keySet();
            for (String n : List.of("embeddings.weight", "lm_head.weight", "backbone.encoder.layers.0.mixer.in_proj.weight",
                    "backbone.routing_module.q_proj_layer.weight", "backbone.routing_module.k_proj_layer.weight",
                    "backbone.residual_proj.weight", "backbone.residual_proj.bias", "backbone.main_network.pad_dimension",
                    "backbone.main_network.main_network.layers.0.mixer.Wqkv.weight", "backbone.main_network.main_network.rmsnorm.weight",
                    "backbone.decoder.layers.0.mixer.out_proj.weight", "backbone.decoder.rmsnorm.weight")) {
                assertTrue(names.contains(n), "has " + n + " among " + names);
            }
            assertTrue(Double.isFinite(loss.total().item()));
            assertTrue(loss.bytesPerChunk()[0] >= 1);
        }
    }

    @Test
    void twoStageForwardBackward() {
        try (HNetLM m = new HNetLM(HNetConfig.preset("hnet-2stage-tiny"), new Generator(4)); Scope s = Scope.open()) {
            Tensor x = randomBytes(5, 3, 40), y = randomBytes(6, 3, 40);
            HNetLM.Loss loss = m.loss(x, y);
            loss.total().backward();
            assertEquals(2, loss.bytesPerChunk().length);
            assertTrue(Double.isFinite(loss.total().item()));
            assertTrue(m.namedParameters().containsKey("backbone.main_network.main_network.main_network.layers.0.mixer.Wqkv.weight"));
        }
    }

    @Test
    void referenceConfigParsesAndRoundTrips() {
        HNetConfig c = HNetConfig.preset("hnet-1stage-L");
        assertEquals(1, c.stages());
        assertEquals("T22", c.innerLayout());
        assertArrayEquals(new int[] {1024, 1536}, c.dModel());
        HNetConfig back = HNetConfig.fromJson(c.toJson());
        assertEquals(c.toJson(), back.toJson());
        double[] lam = HNetLM.lrMultipliers(c);
        assertEquals(2.63, lam[0], 0.01);
        assertEquals(0.88, lam[1], 0.01);
    }

    /** The routing projections of every stage are not decayed (their scale is invisible to the cosine); others are. */
    @Test
    void routerWeightsAreExemptFromWeightDecay() {
        try (HNetLM m = new HNetLM(HNetConfig.preset("hnet-2stage-tiny"), new Generator(7))) {
            var named = m.namedParameters();
            for (String stage : List.of("backbone.", "backbone.main_network.")) {
                for (String proj : List.of("q_proj_layer", "k_proj_layer")) {
                    assertTrue(named.get(stage + "routing_module." + proj + ".weight").noWeightDecay(), stage + proj);
                }
                assertTrue(!named.get(stage + "residual_proj.weight").noWeightDecay(), stage + "residual_proj stays decayed");
            }
            assertTrue(!named.get("lm_head.weight").noWeightDecay());
            try (var opt = new dev.tessera.nn.AdamW(m.parameterGroups(HNetLM.lrMultipliers(m.config())), 1e-2, 0.5);
                 Scope s = Scope.open()) {
                Tensor x = randomBytes(8, 2, 30), y = randomBytes(9, 2, 30);
                m.loss(x, y).total().backward();
                var q = named.get("backbone.routing_module.q_proj_layer.weight");
                q.grad().affineInPlace(0, 0);
                float[] before = q.value().toFloatArray();
                opt.step();
                assertArrayEquals(before, q.value().toFloatArray(), "a zero gradient and no decay leave W_q as it was");
            }
        }
    }
}
