package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.BoundaryPlacement;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The whitespace-routed H-Net: where its chunks start, what it learns from, and how its config reads and writes. */
class WhitespaceRoutingTest {
    static final String[] TEXTS = {"Good morrow, neighbour\nand", "to be  or not\tto be, that ", "All the world's a stage,\n "};

    static Tensor bytesOf(String... texts) {
        int l = texts[0].length();
        long[] v = new long[texts.length * l];
        for (int r = 0; r < texts.length; r++) {
            byte[] t = texts[r].getBytes(StandardCharsets.US_ASCII);
            assertEquals(l, t.length, "equal lengths");
            for (int i = 0; i < l; i++) v[r * l + i] = t[i];
        }
        return Tensor.of(v, texts.length, l);
    }

    @Test
    void chunksStartAtPositionZeroAndAtEveryWhitespaceByte() {
        try (HNetLM m = new HNetLM(HNetConfig.preset("hnet-tiny-whitespace"), new Generator(1)); Scope s = Scope.open()) {
            Tensor x = bytesOf(TEXTS);
            HNet.StageRouting r = m.forward(x).routings().get(0);
            float[] b = r.b().to(DType.F32).toFloatArray(), p = r.p().toFloatArray();
            int l = x.size(1);
            for (int row = 0; row < TEXTS.length; row++) {
                for (int t = 0; t < l; t++) {
                    char ch = TEXTS[row].charAt(t);
                    boolean want = t == 0 || ch == ' ' || ch == '\n' || ch == '\t';
                    assertEquals(want ? 1f : 0f, b[row * l + t], "row " + row + " position " + t + " '" + ch + "'");
                    assertEquals(want ? 1f : 0f, p[row * l + t], "p is the decision");
                }
            }
            BoundaryPlacement placement = new BoundaryPlacement(1);
            placement.add(x, List.of(r.b()));
            assertEquals(1.0, placement.shareAtWordStarts(0));
        }
    }

    @Test
    void noRatioLossAndNoGradientIntoTheUnusedRouter() {
        try (HNetLM m = new HNetLM(HNetConfig.preset("hnet-tiny-whitespace"), new Generator(2)); Scope s = Scope.open()) {
            Tensor x = bytesOf(TEXTS), y = bytesOf(TEXTS);
            HNetLM.Loss loss = m.loss(x, y);
            assertNull(loss.ratio(), "a fixed rule has no compression ratio to learn");
            assertEquals(loss.crossEntropy().item(), loss.total().item());
            loss.total().backward();
            var named = m.namedParameters();
            assertNull(named.get("backbone.routing_module.q_proj_layer.weight").grad());
            assertNull(named.get("backbone.routing_module.k_proj_layer.weight").grad());
            assertTrue(named.get("backbone.encoder.layers.0.mixer.in_proj.weight").grad() != null, "the encoder still learns");
            int chunks = (int) m.forward(x).routings().get(0).b().to(DType.F32).sum().item();
            assertEquals(x.numel() / (double) chunks, loss.bytesPerChunk()[0], 1e-12);
        }
    }

    @Test
    void configCarriesTheRuleThroughJsonAndRefusesBadValues() {
        HNetConfig c = HNetConfig.preset("hnet-tiny-whitespace");
        assertEquals(HNetConfig.Boundaries.WHITESPACE, c.routing());
        assertTrue(c.toJson().contains("\"routing\":\"whitespace\""), c.toJson());
        assertEquals(c.toJson(), HNetConfig.fromJson(c.toJson()).toJson());
        assertEquals(HNetConfig.Boundaries.LEARNED, HNetConfig.preset("hnet-tiny").routing());
        assertTrue(!HNetConfig.preset("hnet-tiny").toJson().contains("routing"), "reference JSON stays as it was");
        assertEquals(c.parameterCount(), HNetConfig.preset("hnet-tiny").parameterCount(), "same parameters, same names");
        String bad = c.toJson().replace("\"whitespace\"", "\"spaces\"");
        var e = assertThrows(IllegalArgumentException.class, () -> HNetConfig.fromJson(bad));
        assertTrue(e.getMessage().contains("routing") && e.getMessage().contains("spaces"), e.getMessage());
    }
}
