package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.nn.Parameter;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * H-Nets of random shapes — one or two stages, Mamba-2 and attention layers in random orders with and without MLPs,
 * random widths, heads, state sizes, convolution widths, windows and target ratios — built from the reference JSON
 * format, each decoding a batch of random bytes one byte at a time: the logits equal the parallel forward's at every
 * position. The presets' decoding is tested in {@link HNetStepTest}; this reaches the layouts no preset has.
 * {@code -Dfuzz.models=N}, {@code -Dfuzz.seed=S}; a failure names its model's seed and config.
 */
class HNetConfigFuzzStepTest {
    private static final int MODELS = Integer.getInteger("fuzz.models", 24);
    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);

    @Test
    void randomModelsDecodeAsTheyForward() {
        List<String> failures = new ArrayList<>();
        SplittableRandom seeds = new SplittableRandom(SEED);
        int skipped = 0;
        for (int i = 0; i < MODELS; i++) {
            long seed = seeds.nextLong();
            String json = randomConfig(new SplittableRandom(seed));
            try {
                String bad = check(HNetConfig.fromJson(json), seed);
                if (bad == null) continue;
                if (bad.equals(SKIP)) skipped++;
                else failures.add("model seed " + seed + " " + json + ": " + bad);
            } catch (RuntimeException | AssertionError e) {
                failures.add("model seed " + seed + " " + json + ": threw " + e);
            }
        }
        System.out.printf("H-Net config fuzz: %d models (seed %d), %d skipped at a routing threshold, %d failed%n", MODELS, SEED, skipped,
                failures.size());
        assertTrue(failures.isEmpty(), failures.size() + " of " + MODELS + " models failed; the first ones:\n"
                + String.join("\n", failures.subList(0, Math.min(5, failures.size()))));
    }

    private static final String SKIP = "skip";

    /**
     * The same random models on cuda:0 (a GPU, or the CUDA emulator) against the CPU: the training loss and every
     * parameter's gradient to rounding, and byte-by-byte decoding on the device against the device's forward.
     * {@code -Dfuzz.cudaModels=N} checks more.
     */
    @Test
    @Tag("gpu")
    void randomModelsOnCudaFollowTheCpu() {
        String why = dev.tessera.kernels.testing.GpuOrEmulator.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
        int models = Integer.getInteger("fuzz.cudaModels", 4), skipped = 0;
        List<String> failures = new ArrayList<>();
        SplittableRandom seeds = new SplittableRandom(SEED ^ 0xC0DAL);
        for (int i = 0; i < models; i++) {
            long seed = seeds.nextLong();
            String json = randomConfig(new SplittableRandom(seed));
            try {
                String bad = checkOnCuda(HNetConfig.fromJson(json), seed);
                if (SKIP.equals(bad)) skipped++;
                else if (bad != null) failures.add("model seed " + seed + " " + json + ": " + bad);
            } catch (RuntimeException | AssertionError e) {
                failures.add("model seed " + seed + " " + json + ": threw " + e);
            }
        }
        System.out.printf("H-Net config fuzz on cuda:0: %d models, %d skipped at a routing threshold, %d failed%n", models, skipped, failures.size());
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    private static String checkOnCuda(HNetConfig config, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int b = 1 + r.nextInt(2), l = 8 + r.nextInt(17);
        try (Scope s = Scope.open(); HNetLM cpu = new HNetLM(config, new Generator(seed)); HNetLM gpu = new HNetLM(config, new Generator(seed))) {
            Tensor x = Tensor.randint(new Generator(seed), 0, 256, b, l), y = Tensor.randint(new Generator(seed + 1), 0, 256, b, l);
            for (var routing : cpu.forward(x).routings()) {
                for (double p : routing.p().to(DType.F64).toDoubleArray()) if (Math.abs(p - 0.5) < 1e-3) return SKIP; // rounding may flip it
            }
            gpu.to(Device.cuda(0));
            Tensor onCpu = cpu.loss(x, y).total(), onGpu = gpu.loss(x, y).total();
            onCpu.backward();
            onGpu.backward();
            double lossCpu = onCpu.item(), lossGpu = onGpu.item();
            if (!(Math.abs(lossCpu - lossGpu) <= 2e-3 * Math.max(1, Math.abs(lossCpu)))) return "loss: cpu " + lossCpu + ", cuda " + lossGpu;
            Map<String, Parameter> a = cpu.namedParameters(), g = gpu.namedParameters();
            for (String name : a.keySet()) {
                Tensor ga = a.get(name).value().grad(), gb = g.get(name).value().grad();
                if (ga == null) continue;
                if (gb == null) return name + ": no gradient on cuda";
                float[] ea = ga.toFloatArray(), eb = gb.toFloatArray();
                double scale = 1e-6;
                for (float v : ea) scale = Math.max(scale, Math.abs(v));
                for (int i = 0; i < ea.length; i++) {
                    if (!(Math.abs(ea[i] - eb[i]) <= 5e-3 * scale)) return name + " gradient [" + i + "]: cpu " + ea[i] + ", cuda " + eb[i];
                }
            }
            String step = HNetStepTest.stepMismatch(gpu, x);
            return step == null ? null : "decoding on cuda: " + step;
        }
    }

    static String randomConfig(SplittableRandom r) {
        int stages = 1 + r.nextInt(2);
        int[] heads = new int[stages + 1], d = new int[stages + 1], inter = new int[stages + 1], rotary = new int[stages + 1], window = new int[stages + 1];
        int headDim = 4 * (1 + r.nextInt(3));
        for (int s = 0; s <= stages; s++) {
            heads[s] = 1 + r.nextInt(3);
            d[s] = Math.max(s == 0 ? 8 : d[s - 1], heads[s] * headDim * (1 + r.nextInt(2))); // widths never shrink
            d[s] -= d[s] % headDim;
            while (d[s] % heads[s] != 0 || (d[s] / heads[s]) % 2 != 0) d[s] += headDim;
            inter[s] = r.nextBoolean() ? 0 : 2 * d[s];
            int perHead = d[s] / heads[s];
            rotary[s] = r.nextBoolean() ? 0 : 2 * (1 + r.nextInt(perHead / 2));
            window[s] = r.nextBoolean() ? -1 : 2 + r.nextInt(12);
        }
        String layout = "[" + quote(block(r, inter[stages] > 0)) + "]"; // the main network, then each stage around it
        for (int s = stages - 1; s >= 0; s--) layout = "[" + quote(block(r, inter[s] > 0)) + ", " + layout + ", " + quote(block(r, inter[s] > 0)) + "]";
        int dState = 4 * (1 + r.nextInt(4)), dConv = 2 + r.nextInt(3), ssmHeadDim = new int[] {4, 8}[r.nextInt(2)];
        StringBuilder ratios = new StringBuilder();
        for (int s = 0; s < stages; s++) ratios.append(s == 0 ? "" : ", ").append(2 + r.nextInt(3));
        return "{\"arch_layout\": " + layout
                + ", \"d_model\": " + list(d) + ", \"d_intermediate\": " + list(inter) + ", \"vocab_size\": 256"
                + ", \"ssm_cfg\": {\"d_state\": " + dState + ", \"d_conv\": " + dConv + ", \"expand\": 2, \"headdim\": " + ssmHeadDim + "}"
                + ", \"attn_cfg\": {\"num_heads\": " + list(heads) + ", \"rotary_emb_dim\": " + list(rotary) + ", \"window_size\": " + list(window) + "}"
                + ", \"target_ratio\": [" + ratios + "], \"tie_embeddings\": false}";
    }

    /** One to three layers: Mamba-2 (m) or attention (t), upper case with an MLP where the stage has one. */
    private static String block(SplittableRandom r, boolean mlp) {
        StringBuilder sb = new StringBuilder();
        int parts = 1 + r.nextInt(2);
        for (int i = 0; i < parts; i++) {
            char c = r.nextInt(3) == 0 ? 't' : 'm';
            sb.append(mlp && r.nextBoolean() ? Character.toUpperCase(c) : c).append(1 + r.nextInt(2));
        }
        return sb.toString();
    }

    private static String quote(String s) { return "\"" + s + "\""; }

    private static String list(int[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) sb.append(i == 0 ? "" : ", ").append(v[i]);
        return sb.append(']').toString();
    }

    /** Null when every position's step logits equal the forward's; {@link #SKIP} at a routing threshold. */
    private static String check(HNetConfig config, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int b = 1 + r.nextInt(3), l = 8 + r.nextInt(25);
        Tensor bytes = Tensor.randint(new Generator(seed), 0, 256, b, l);
        try (HNetLM m = new HNetLM(config, new Generator(seed)); Scope s = Scope.open()) {
            var out = m.forward(bytes);
            for (var routing : out.routings()) {
                for (double p : routing.p().to(DType.F64).toDoubleArray()) if (Math.abs(p - 0.5) < 1e-4) return SKIP;
            }
            return HNetStepTest.stepMismatch(m, bytes);
        }
    }
}
