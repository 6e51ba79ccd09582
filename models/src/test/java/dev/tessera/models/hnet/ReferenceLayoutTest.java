package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.cli.TesseraCli;
import dev.tessera.nn.Parameter;
import dev.tessera.nn.SafeTensors;
import dev.tessera.nn.TrainingCheckpoint;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reference implementation's checkpoint layout (hnet.md §6), written out by hand for one small 1-stage config —
 * independently of the model code — and checked against the model; then a safetensors file built directly in that
 * layout (no model involved in writing it) is loaded strictly and scored through {@code tessera score}, which must
 * give exactly the logits of the model's own forward on the same bytes.
 */
class ReferenceLayoutTest {
    /** arch ["m2", ["T1"], "m2"], D = [16, 24], d_intermediate [0, 64], ssm d_state 8, d_conv 4, expand 2, headdim 8. */
    static final String CONFIG = """
            {"arch_layout": ["m2", ["T1"], "m2"], "d_model": [16, 24], "d_intermediate": [0, 64], "vocab_size": 256,
             "ssm_cfg": {"chunk_size": 256, "d_conv": 4, "d_state": 8, "expand": 2, "headdim": 8},
             "attn_cfg": {"num_heads": [2, 2], "rotary_emb_dim": [4, 4], "window_size": [7, -1]}, "tie_embeddings": false}""";

    /**
     * Names and shapes by hand. Encoder/decoder at D₀ = 16, Mamba-2: d_inner = 2·16 = 32, H = 32/8 = 4 heads, G = 1,
     * N = 8, in_proj out = 2·32 + 2·1·8 + 4 = 84, conv_dim = 32 + 2·8 = 48. Main network at D₁ = 24: F = 64 rounded
     * up to 128, so fc1 [256, 24] and fc2 [24, 128]; Wqkv [72, 24]. Pad vector 24 − 16 = 8.
     */
    static Map<String, List<Integer>> expectedLayout() {
        Map<String, List<Integer>> e = new TreeMap<>();
        e.put("embeddings.weight", List.of(256, 16));
        e.put("lm_head.weight", List.of(256, 16));
        for (String stack : List.of("backbone.encoder", "backbone.decoder")) {
            for (int i = 0; i < 2; i++) {
                String l = stack + ".layers." + i + ".";
                e.put(l + "norm1.weight", List.of(16));
                e.put(l + "mixer.in_proj.weight", List.of(84, 16));
                e.put(l + "mixer.conv1d.weight", List.of(48, 1, 4));
                e.put(l + "mixer.conv1d.bias", List.of(48));
                e.put(l + "mixer.dt_bias", List.of(4));
                e.put(l + "mixer.A_log", List.of(4));
                e.put(l + "mixer.D", List.of(4));
                e.put(l + "mixer.norm.weight", List.of(32));
                e.put(l + "mixer.out_proj.weight", List.of(16, 32));
            }
            e.put(stack + ".rmsnorm.weight", List.of(16));
        }
        e.put("backbone.routing_module.q_proj_layer.weight", List.of(16, 16));
        e.put("backbone.routing_module.k_proj_layer.weight", List.of(16, 16));
        e.put("backbone.residual_proj.weight", List.of(16, 16));
        e.put("backbone.residual_proj.bias", List.of(16));
        e.put("backbone.main_network.pad_dimension", List.of(8));
        String t = "backbone.main_network.main_network.layers.0.";
        e.put(t + "norm1.weight", List.of(24));
        e.put(t + "mixer.Wqkv.weight", List.of(72, 24));
        e.put(t + "mixer.out_proj.weight", List.of(24, 24));
        e.put(t + "norm2.weight", List.of(24));
        e.put(t + "mlp.fc1.weight", List.of(256, 24));
        e.put(t + "mlp.fc2.weight", List.of(24, 128));
        e.put("backbone.main_network.main_network.rmsnorm.weight", List.of(24));
        return e;
    }

    private static List<Integer> shape(int[] s) { return Arrays.stream(s).boxed().toList(); }

    @Test
    void parameterNamesAndShapesEqualTheReferenceLayout() {
        try (HNetLM m = new HNetLM(HNetConfig.fromJson(CONFIG), new Generator(0))) {
            Map<String, List<Integer>> actual = new TreeMap<>();
            m.namedParameters().forEach((n, p) -> actual.put(n, shape(p.shape())));
            assertEquals(expectedLayout(), actual);
            long total = expectedLayout().values().stream().mapToLong(s -> s.stream().mapToLong(Integer::longValue).reduce(1, (a, b) -> a * b)).sum();
            assertEquals(total, m.parameterCount());
            assertEquals(total, HNetConfig.fromJson(CONFIG).parameterCount());
        }
    }

    /**
     * Random values in the reference layout, plausible enough for a finite forward pass: norms near 1, A_log = ln U[1, 16],
     * routing projections near the identity (so boundary probabilities spread around 0.5), other weights N(0, 0.3).
     */
    static Map<String, Tensor> referenceTensors(long seed) {
        Random rnd = new Random(seed);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : expectedLayout().entrySet()) {
            String n = e.getKey();
            int[] s = e.getValue().stream().mapToInt(Integer::intValue).toArray();
            int count = Arrays.stream(s).reduce(1, (a, b) -> a * b);
            float[] v = new float[count];
            for (int i = 0; i < count; i++) {
                double g = rnd.nextGaussian();
                v[i] = (float) (n.endsWith("norm1.weight") || n.endsWith("norm2.weight") || n.endsWith("norm.weight") ? 1 + 0.1 * g
                        : n.endsWith("A_log") ? Math.log(1 + 15 * rnd.nextDouble())
                        : n.endsWith("mixer.D") ? 1 + 0.1 * g
                        : n.endsWith("dt_bias") ? -3 + 0.5 * g
                        : n.startsWith("embeddings") ? g
                        : n.contains("routing_module") ? (i % (s[1] + 1) == 0 ? 1 : 0) + 0.3 * g
                        : 0.3 * g);
            }
            out.put(n, Tensor.of(v, s));
        }
        return out;
    }

    @Test
    void referenceFileLoadsStrictlyAndScoreGivesTheModelsLogits(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("reference.safetensors");
        Map<String, Tensor> ref = referenceTensors(42);
        // Exactly what a converted reference checkpoint holds: model tensors and the config, nothing else.
        SafeTensors.write(file, ref, Map.of("config", CONFIG));

        String text = "The quick brown fox jumps over the lazy dog; 0123456789.";
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        float[] expectedLogits;
        double[] expectedP;
        try (HNetLM viaModule = new HNetLM(HNetConfig.fromJson(CONFIG), new Generator(7));
             HNetLM viaCheckpoint = new HNetLM(HNetConfig.fromJson(CONFIG), new Generator(8))) {
            viaModule.loadStateDict(SafeTensors.read(file), true);
            TrainingCheckpoint.load(file, viaCheckpoint, null, Map.of());
            for (HNetLM m : List.of(viaModule, viaCheckpoint)) {
                for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
                    assertArrayEquals(ref.get(e.getKey()).toFloatArray(), e.getValue().value().toFloatArray(), 0f, e.getKey());
                }
            }
            viaModule.eval();
            try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                long[] in = new long[bytes.length];
                for (int i = 0; i < bytes.length; i++) in[i] = bytes[i] & 0xFF;
                HNetLM.Output out = viaModule.forward(Tensor.of(in, 1, in.length));
                expectedLogits = out.logits().to(DType.F32).contiguous().toFloatArray();
                expectedP = out.routings().get(0).p().toDoubleArray();
            }
        }

        Path scores = dir.resolve("scores.safetensors");
        assertEquals(0, TesseraCli.run("score", "--checkpoint", file.toString(), "--text", text, "--out", scores.toString(), "--device", "cpu"));
        Map<String, Tensor> got = SafeTensors.read(scores);
        assertArrayEquals(new int[] {bytes.length, 256}, got.get("logits").shape());
        float[] logits = got.get("logits").toFloatArray();
        assertArrayEquals(expectedLogits, logits, 0f, "score's logits are the model's forward on the same bytes (no BOS)");
        double[] p = got.get("boundary_prob.0").toDoubleArray();
        assertEquals(expectedP.length, p.length);
        for (int i = 0; i < p.length; i++) assertEquals((float) expectedP[i], p[i], 0, "boundary probability " + i);
        // Not a degenerate routing: the random reference weights give both boundaries and non-boundaries.
        assertTrue(Arrays.stream(p).anyMatch(x -> x > 0.5) && Arrays.stream(p).anyMatch(x -> x < 0.5), Arrays.toString(p));
        // logprobs[t] = log softmax(logits[t])[byte t+1], recomputed here in double precision.
        float[] lp = got.get("logprobs").toFloatArray();
        assertEquals(bytes.length - 1, lp.length);
        for (int t = 0; t + 1 < bytes.length; t++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < 256; v++) max = Math.max(max, logits[t * 256 + v]);
            for (int v = 0; v < 256; v++) sum += Math.exp(logits[t * 256 + v] - max);
            double want = logits[t * 256 + (bytes[t + 1] & 0xFF)] - max - Math.log(sum);
            assertEquals(want, lp[t], 1e-4, "logprob " + t);
        }
    }
}
