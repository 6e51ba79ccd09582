package dev.tessera.models.baseline;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Byte-level baselines of random shapes — Mamba-2 and attention layers in random orders, with and without MLPs, random
 * widths, heads, rotary dims, windows, state and convolution sizes — decode a batch byte by byte to their forward's
 * logits at every position; on {@code cuda:0} (a GPU, or the CUDA emulator) the forward and the decoding follow the
 * CPU. {@code -Dfuzz.models=N}, {@code -Dfuzz.seed=S}; a failure names its model's seed and config.
 */
class IsotropicConfigFuzzStepTest {
    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);

    @Test
    void randomBaselinesDecodeAsTheyForward() { fuzz(Device.cpu(), Integer.getInteger("fuzz.models", 24)); }

    @Test
    @Tag("gpu")
    void randomBaselinesOnCudaFollowTheCpu() {
        String why = dev.tessera.kernels.testing.GpuOrEmulator.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
        fuzz(Device.cuda(0), Integer.getInteger("fuzz.cudaModels", 6));
    }

    private static void fuzz(Device device, int models) {
        List<String> failures = new ArrayList<>();
        SplittableRandom seeds = new SplittableRandom(SEED ^ 0x150L);
        for (int i = 0; i < models; i++) {
            long seed = seeds.nextLong();
            String json = randomConfig(new SplittableRandom(seed));
            try {
                String bad = check(IsotropicConfig.fromJson(json), seed, device);
                if (bad != null) failures.add("model seed " + seed + " " + json + ": " + bad);
            } catch (RuntimeException | AssertionError e) {
                failures.add("model seed " + seed + " " + json + ": threw " + e);
            }
        }
        System.out.printf("isotropic config fuzz on %s: %d models, %d failed%n", device, models, failures.size());
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    static String randomConfig(SplittableRandom r) {
        int heads = 1 + r.nextInt(4), perHead = 2 * (2 + r.nextInt(7)), d = heads * perHead;
        boolean mlp = r.nextBoolean();
        StringBuilder layout = new StringBuilder();
        for (int i = 0, parts = 1 + r.nextInt(3); i < parts; i++) {
            char c = r.nextInt(2) == 0 ? 't' : 'm';
            layout.append(mlp && r.nextBoolean() ? Character.toUpperCase(c) : c).append(1 + r.nextInt(2));
        }
        int rotary = r.nextBoolean() ? 0 : 2 * (1 + r.nextInt(perHead / 2)), window = r.nextBoolean() ? -1 : 2 + r.nextInt(12);
        int ssmHeadDim = 2 * d % 8 == 0 ? 8 : 2 * d % 4 == 0 ? 4 : 2;
        return "{\"layout\": \"" + layout + "\", \"d_model\": " + d + ", \"d_intermediate\": " + (mlp ? 2 * d : 0) + ", \"vocab_size\": 256"
                + ", \"ssm_cfg\": {\"d_state\": " + 4 * (1 + r.nextInt(4)) + ", \"d_conv\": " + (2 + r.nextInt(3)) + ", \"expand\": 2, \"headdim\": " + ssmHeadDim + "}"
                + ", \"attn_cfg\": {\"num_heads\": " + heads + ", \"rotary_emb_dim\": " + rotary + ", \"window_size\": " + window + "}}";
    }

    /**
     * Null when decoding on {@code device} gives, at every position, the logits of the forward on the CPU (and, on
     * another device, the forward there gives them too), else the first difference.
     */
    private static String check(IsotropicConfig config, long seed, Device device) {
        SplittableRandom r = new SplittableRandom(seed);
        int b = 1 + r.nextInt(3), l = 4 + r.nextInt(29);
        Tensor bytes = Tensor.randint(new Generator(seed), 0, 256, b, l);
        try (IsotropicLM cpu = new IsotropicLM(config, new Generator(seed)); IsotropicLM model = new IsotropicLM(config, new Generator(seed));
             Scope s = Scope.open()) {
            cpu.eval();
            model.eval();
            if (!device.isCpu()) model.to(device);
            float[] full = cpu.forward(bytes).logits().toFloatArray();
            if (!device.isCpu()) {
                String bad = differs("forward on " + device, full, model.forward(bytes).logits().toFloatArray(), -1);
                if (bad != null) return bad;
            }
            long[] v = bytes.toLongArray();
            try (ByteLanguageModel.Decoder dec = model.newDecoder(b, l)) {
                for (int t = 0; t < l; t++) {
                    long[] col = new long[b];
                    for (int row = 0; row < b; row++) col[row] = v[row * l + t];
                    float[] step;
                    try (Scope in = Scope.open()) {
                        step = dec.step(Tensor.of(col, b)).toFloatArray();
                    }
                    float[] want = new float[b * 256];
                    for (int row = 0; row < b; row++) System.arraycopy(full, (row * l + t) * 256, want, row * 256, 256);
                    String bad = differs("decoding", want, step, t);
                    if (bad != null) return bad;
                }
            }
        }
        return null;
    }

    private static String differs(String what, float[] want, float[] got, int position) {
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(want[i] - got[i]) <= 1e-3f + 1e-3f * Math.abs(want[i]))) {
                return what + (position >= 0 ? " at position " + position : "") + ", logit [" + i + "]: " + got[i] + ", expected " + want[i];
            }
        }
        return null;
    }
}
