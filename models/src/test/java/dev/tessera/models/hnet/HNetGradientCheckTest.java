package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tessera.nn.Parameter;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Float64 central-difference check of the gradient of H-Net's TOTAL training loss (next-byte cross entropy + α·Σ ratio
 * losses) with respect to parameters whose gradient flows only through the dynamic-chunking machinery: the router
 * W_q/W_k (reached through the confidence c, the smoothing probabilities P and the ratio loss's mean p), the encoder
 * (through x̂ into routing, chunking and the residual), residual_proj, the inner network (through chunk, dechunk and
 * upsampling), the learned pad vector and the embeddings. Same tolerances as nn's GradCheck: eps 1e-6, atol 1e-5,
 * rtol 1e-3.
 *
 * <p>The straight-through estimator: the dechunked output is multiplied by STE(c), whose forward value is exactly 1
 * and whose backward passes the gradient to the confidence c. A finite difference of the model's own loss cannot
 * see that gradient (tried: the router's gradients then disagree by a few percent, the decoder's agree to 1e-9).
 * So the analytic gradient — the model's ordinary backward, STE included — is compared with central differences of
 * the surrogate loss in which STE(c) is replaced by 1 + (c − c₀), c₀ frozen at the point checked
 * ({@link HNet.ConfidenceFactor}): the surrogate equals the model's loss there (asserted) and its true derivative is
 * the STE gradient, so the check covers the confidence path too without trusting it.
 *
 * <p>Boundaries b = (p &gt; 0.5) are piecewise constant in the parameters, so the loss is differentiable only away
 * from p = 0.5. The inputs are chosen (first seed that qualifies, asserted) so that no real position has p within
 * 1e-3 of 0.5; a ±1e-6 perturbation then cannot flip a boundary, and the finite differences see the same chunking
 * as the analytic gradient.
 */
class HNetGradientCheckTest {
    private static final double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3, MARGIN = 1e-3;
    private static final int SAMPLES = 20, B = 2;

    private static final String ONE_STAGE = """
            {"arch_layout": ["m1", ["T1"], "m1"], "d_model": [8, 12], "d_intermediate": [0, 16], "vocab_size": 256,
             "ssm_cfg": {"d_state": 4, "d_conv": 4, "expand": 2, "headdim": 4},
             "attn_cfg": {"num_heads": [2, 2], "rotary_emb_dim": [4, 4], "window_size": [7, -1]}, "target_ratio": [3]}""";

    private static final String TWO_STAGE = """
            {"arch_layout": ["m1", ["m1", ["T1"], "m1"], "m1"], "d_model": [8, 12, 16], "d_intermediate": [0, 0, 16],
             "vocab_size": 256, "ssm_cfg": {"d_state": 4, "d_conv": 4, "expand": 2, "headdim": 4},
             "attn_cfg": {"num_heads": [2, 2, 2], "rotary_emb_dim": [4, 4, 4], "window_size": [7, 7, -1]}, "target_ratio": [2, 2]}""";

    /** Bytes and next-byte targets of one batch. */
    private record Batch(Tensor x, Tensor y) {}

    private static double totalLoss(HNetLM m, Batch batch) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return m.loss(batch.x(), batch.y()).total().item();
        }
    }

    /** Smallest |p − 0.5| over the real positions of every stage (padding rows of inner stages never route). */
    private static double margin(HNetLM m, Tensor x, int stages) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            List<HNet.StageRouting> rs = m.forward(x).routings();
            assertEquals(stages, rs.size());
            double min = Double.MAX_VALUE;
            for (HNet.StageRouting r : rs) {
                assertEquals(DType.F64, r.p().dtype(), "the routing runs in float64 once the model is cast");
                double[] p = r.p().toDoubleArray();
                double[] mask = r.mask() == null ? null : r.mask().to(DType.F64).toDoubleArray();
                for (int i = 0; i < p.length; i++) {
                    if (mask == null || mask[i] != 0) min = Math.min(min, Math.abs(p[i] - 0.5));
                }
            }
            return min;
        }
    }

    /** The first input seed whose routing keeps every p at least MARGIN away from 0.5 (asserted to exist). */
    private static Batch inputsAwayFromTheThreshold(HNetLM m, int length, int stages) {
        for (long seed = 0; seed < 100; seed++) {
            Tensor x, y;
            try (Scope s = Scope.open()) {
                x = s.keep(Tensor.randint(new Generator(1000 + seed), 0, 256, B, length));
                y = s.keep(Tensor.randint(new Generator(2000 + seed), 0, 256, B, length));
            }
            if (margin(m, x, stages) > MARGIN) return new Batch(x, y);
            x.close();
            y.close();
        }
        fail("no input seed keeps every boundary probability " + MARGIN + " away from 0.5");
        return null;
    }

    /**
     * Confidences c₀ by stage at the current parameters, as plain arrays (they outlive every scope); keyed by stage
     * because an inner stage dechunks before the stage around it.
     */
    private static Map<Integer, double[]> confidences(HNetLM m, Batch batch) {
        Map<Integer, double[]> c0 = new java.util.HashMap<>();
        m.confidenceFactor((stage, c) -> {
            c0.put(stage, c.toDoubleArray());
            return Tensor.ones(c.dtype(), c.shape());
        });
        try {
            totalLoss(m, batch);
        } finally {
            m.confidenceFactor(null);
        }
        return c0;
    }

    /** Checks ~SAMPLES entries of d(total loss)/d(param) against central differences; asserts the gradient is not vacuous. */
    private static void check(HNetLM m, Batch batch, String name) {
        Parameter p = m.namedParameters().get(name);
        assertNotNull(p, "no parameter " + name + " in " + m.namedParameters().keySet());
        assertEquals(DType.F64, p.value().dtype());
        m.zeroGrad();
        try (Scope s = Scope.open()) {
            m.loss(batch.x(), batch.y()).total().backward();
        }
        assertNotNull(p.grad(), "no gradient reaches " + name);
        double[] analytic = p.grad().toDoubleArray();
        double[] v = p.value().toDoubleArray();
        double largest = 0;
        for (double a : analytic) largest = Math.max(largest, Math.abs(a));
        assertTrue(largest > 1e-7, name + ": the gradient is (numerically) zero, the check would prove nothing");
        // Sample distinct entries; for small tensors (biases, pad vectors) that is all of them.
        TreeSet<Integer> idx = new TreeSet<>();
        Random rnd = new Random(name.hashCode());
        while (idx.size() < Math.min(SAMPLES, v.length)) idx.add(rnd.nextInt(v.length));
        // Also the largest-gradient entry, so a check of a mostly-flat tensor still compares a real value.
        int arg = 0;
        for (int i = 1; i < analytic.length; i++) if (Math.abs(analytic[i]) > Math.abs(analytic[arg])) arg = i;
        idx.add(arg);
        // The numeric side differentiates the surrogate with STE(c) → 1 + (c − c₀) (see the class comment).
        Map<Integer, double[]> c0 = confidences(m, batch);
        double plain = totalLoss(m, batch);
        m.confidenceFactor((stage, c) -> c.sub(Tensor.of(c0.get(stage), c.shape())).add(1));
        try {
            assertEquals(plain, totalLoss(m, batch), 0, "the surrogate has the model's loss at the point checked");
            compare(m, batch, p, name, analytic, v, idx);
        } finally {
            m.confidenceFactor(null);
        }
    }

    private static void compare(HNetLM m, Batch batch, Parameter p, String name, double[] analytic, double[] v, TreeSet<Integer> idx) {
        for (int i : idx) {
            double keep = v[i];
            v[i] = keep + EPS;
            p.set(Tensor.of(v, p.shape()));
            double plus = totalLoss(m, batch);
            v[i] = keep - EPS;
            p.set(Tensor.of(v, p.shape()));
            double minus = totalLoss(m, batch);
            v[i] = keep;
            p.set(Tensor.of(v, p.shape()));
            double numeric = (plus - minus) / (2 * EPS);
            assertTrue(Math.abs(analytic[i] - numeric) <= ATOL + RTOL * Math.abs(numeric),
                    name + "[" + i + "]: analytic " + analytic[i] + " vs numeric " + numeric);
        }
    }

    /**
     * The surrogate is not a formality: at the router's largest-gradient entry, the finite difference of the model's
     * own loss (which cannot see the STE) misses the autograd gradient by more than the tolerance.
     */
    private static void steGradientIsNotNegligible(HNetLM m, Batch batch, String name) {
        Parameter p = m.namedParameters().get(name);
        m.zeroGrad();
        try (Scope s = Scope.open()) {
            m.loss(batch.x(), batch.y()).total().backward();
        }
        double[] analytic = p.grad().toDoubleArray(), v = p.value().toDoubleArray();
        int i = 0;
        for (int j = 1; j < analytic.length; j++) if (Math.abs(analytic[j]) > Math.abs(analytic[i])) i = j;
        double keep = v[i];
        v[i] = keep + EPS;
        p.set(Tensor.of(v, p.shape()));
        double plus = totalLoss(m, batch);
        v[i] = keep - EPS;
        p.set(Tensor.of(v, p.shape()));
        double minus = totalLoss(m, batch);
        v[i] = keep;
        p.set(Tensor.of(v, p.shape()));
        double plainNumeric = (plus - minus) / (2 * EPS);
        assertTrue(Math.abs(analytic[i] - plainNumeric) > ATOL + RTOL * Math.abs(plainNumeric),
                name + ": the STE term should be visible: analytic " + analytic[i] + " vs plain numeric " + plainNumeric);
    }

    private static HNetLM f64Model(String json, long seed) {
        HNetLM m = new HNetLM(HNetConfig.fromJson(json), new Generator(seed));
        m.castTo(DType.F64);
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
            assertEquals(DType.F64, e.getValue().value().dtype(), e.getKey());
        }
        return m;
    }

    @Test
    void oneStageTotalLossThroughRoutingChunkingDechunkingAndRatioLoss() {
        try (HNetLM m = f64Model(ONE_STAGE, 3)) {
            Batch batch = inputsAwayFromTheThreshold(m, 16, 1);
            for (String name : List.of("backbone.routing_module.q_proj_layer.weight", "backbone.routing_module.k_proj_layer.weight",
                    "backbone.encoder.layers.0.mixer.in_proj.weight", "backbone.encoder.layers.0.mixer.conv1d.weight",
                    "backbone.residual_proj.weight", "backbone.residual_proj.bias",
                    "backbone.main_network.main_network.layers.0.mixer.Wqkv.weight", "backbone.main_network.pad_dimension",
                    "backbone.decoder.layers.0.mixer.in_proj.weight", "embeddings.weight")) {
                check(m, batch, name);
            }
            assertTrue(margin(m, batch.x(), 1) > MARGIN, "the check left the parameters where it found them");
            steGradientIsNotNegligible(m, batch, "backbone.routing_module.q_proj_layer.weight");
        }
    }

    /**
     * The same check on H-Nets of random shapes ({@link HNetConfigFuzzStepTest#randomConfig}: one or two stages,
     * Mamba-2 and attention layers in random orders, MLPs, windows), a few parameters of each drawn at random among
     * those the loss reaches. {@code -Dfuzz.gradModels=N} checks more models.
     */
    @Test
    void randomConfigsPassTheCheck() {
        java.util.SplittableRandom seeds = new java.util.SplittableRandom(Long.getLong("fuzz.seed", 20261207L) ^ 0x6AD);
        int models = Integer.getInteger("fuzz.gradModels", 4), checked = 0;
        java.util.List<String> failures = new java.util.ArrayList<>();
        for (int k = 0; k < models; k++) {
            long seed = seeds.nextLong();
            java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
            String json = HNetConfigFuzzStepTest.randomConfig(r);
            try (HNetLM m = f64Model(json, seed)) {
                int stages = m.forward(Tensor.randint(new Generator(seed), 0, 256, 1, 4)).routings().size();
                Batch batch = inputsAwayFromTheThreshold(m, 12 + r.nextInt(13), stages);
                List<String> names = new java.util.ArrayList<>(m.namedParameters().keySet());
                java.util.Collections.shuffle(names, new Random(seed));
                int done = 0;
                for (String name : names) {
                    if (done == 4) break;
                    m.zeroGrad();
                    try (Scope s = Scope.open()) {
                        m.loss(batch.x(), batch.y()).total().backward();
                    }
                    Parameter p = m.namedParameters().get(name);
                    if (p.grad() == null) continue;
                    double largest = 0;
                    for (double a : p.grad().toDoubleArray()) largest = Math.max(largest, Math.abs(a));
                    if (largest <= 1e-7) continue; // a parameter this model's loss does not reach (e.g. a pad vector of equal widths)
                    check(m, batch, name);
                    done++;
                    checked++;
                }
            } catch (RuntimeException | AssertionError e) {
                failures.add("model seed " + seed + " " + json + ": " + e);
            }
        }
        System.out.printf("gradient check of %d random H-Nets: %d parameters checked, %d models failed%n", models, checked, failures.size());
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void twoStageTotalLossThroughBothStagesOfRouting() {
        try (HNetLM m = f64Model(TWO_STAGE, 5)) {
            Batch batch = inputsAwayFromTheThreshold(m, 24, 2);
            for (String name : List.of("backbone.routing_module.q_proj_layer.weight", "backbone.routing_module.k_proj_layer.weight",
                    "backbone.main_network.routing_module.q_proj_layer.weight", "backbone.main_network.routing_module.k_proj_layer.weight",
                    "backbone.main_network.encoder.layers.0.mixer.in_proj.weight", "backbone.main_network.residual_proj.weight",
                    "backbone.main_network.residual_proj.bias", "backbone.main_network.pad_dimension",
                    "backbone.main_network.main_network.pad_dimension",
                    "backbone.main_network.main_network.main_network.layers.0.mixer.Wqkv.weight", "embeddings.weight")) {
                check(m, batch, name);
            }
        }
    }
}
