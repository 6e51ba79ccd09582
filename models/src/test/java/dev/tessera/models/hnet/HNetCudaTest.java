package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.tessera.nn.AdamW;
import dev.tessera.nn.Optimizer;
import dev.tessera.nn.Parameter;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/** H-Net trained on a GPU follows the CPU: same weights, same batches, the same losses and gradients to rounding. */
@Tag("gpu")
class HNetCudaTest {
    private static void needsGpu() {
        String why = dev.tessera.kernels.testing.GpuOrEmulator.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
    }

    private static double[] train(String preset, Device device, int steps) { return train(preset, device, steps, false); }

    private static double[] train(String preset, Device device, int steps, boolean bf16) {
        double[] losses = new double[steps];
        try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(5))) {
            m.to(device);
            try (Optimizer opt = new AdamW(m.parameterGroups(HNetLM.lrMultipliers(m.config())), 1e-3, 0.9, 0.95, 1e-8, 0.1)) {
                Generator data = new Generator(6);
                for (int i = 0; i < steps; i++) {
                    try (Scope s = Scope.open()) {
                        Tensor x = Tensor.randint(data, 0, 256, 2, 48);
                        Tensor y = Tensor.randint(data, 0, 256, 2, 48);
                        opt.zeroGrad();
                        try (dev.tessera.runtime.Autocast a = bf16 ? dev.tessera.runtime.Autocast.bf16() : null) {
                            HNetLM.Loss l = m.loss(x, y);
                            l.total().backward();
                            losses[i] = l.total().item();
                        }
                        opt.step();
                    }
                }
            }
        }
        return losses;
    }

    @Test
    void oneStageTrainsTheSameOnCudaAsOnTheCpu() {
        needsGpu();
        double[] cpu = train("hnet-tiny", Device.cpu(), 4), gpu = train("hnet-tiny", Device.cuda(0), 4);
        for (int i = 0; i < cpu.length; i++) assertEquals(cpu[i], gpu[i], 2e-3 * Math.max(1, Math.abs(cpu[i])), "loss at step " + i);
    }

    /** BF16 products and attention (train --precision bf16) follow the F32 CPU run to BF16's rounding. */
    @Test
    void bf16MixedPrecisionTrainsCloseToF32() {
        needsGpu();
        double[] cpu = train("hnet-tiny", Device.cpu(), 4), gpu = train("hnet-tiny", Device.cuda(0), 4, true);
        for (int i = 0; i < cpu.length; i++) assertEquals(cpu[i], gpu[i], 2e-2 * Math.max(1, Math.abs(cpu[i])), "loss at step " + i);
    }

    @Test
    void twoStagesTrainTheSameOnCudaAsOnTheCpu() {
        needsGpu();
        double[] cpu = train("hnet-2stage-tiny", Device.cpu(), 3), gpu = train("hnet-2stage-tiny", Device.cuda(0), 3);
        for (int i = 0; i < cpu.length; i++) assertEquals(cpu[i], gpu[i], 2e-3 * Math.max(1, Math.abs(cpu[i])), "loss at step " + i);
    }

    @Test
    void gradientsOnCudaMatchTheCpu() {
        needsGpu();
        try (HNetLM cpu = new HNetLM(HNetConfig.preset("hnet-tiny"), new Generator(9));
             HNetLM gpu = new HNetLM(HNetConfig.preset("hnet-tiny"), new Generator(9)); Scope s = Scope.open()) {
            gpu.to(Device.cuda(0));
            Tensor x = Tensor.randint(new Generator(1), 0, 256, 3, 40), y = Tensor.randint(new Generator(2), 0, 256, 3, 40);
            cpu.loss(x, y).total().backward();
            gpu.loss(x, y).total().backward();
            Map<String, Parameter> a = cpu.namedParameters(), b = gpu.namedParameters();
            for (String name : a.keySet()) {
                Tensor ga = a.get(name).value().grad(), gb = b.get(name).value().grad();
                if (ga == null) continue;
                float[] ea = ga.toFloatArray(), eb = gb.toFloatArray();
                double scale = 1e-6;
                for (float v : ea) scale = Math.max(scale, Math.abs(v));
                for (int i = 0; i < ea.length; i++) assertEquals(ea[i], eb[i], 5e-3 * scale, name + " gradient at " + i);
            }
        }
    }

    @Test
    void stepDecodingOnCudaEqualsTheParallelForward() {
        needsGpu();
        assertStepEqualsForwardOnCuda("hnet-tiny", Tensor.randint(new Generator(14), 0, 256, 2, 16));
    }

    @Test
    void whitespaceRoutedStepDecodingOnCudaEqualsTheParallelForward() {
        needsGpu();
        assertStepEqualsForwardOnCuda("hnet-tiny-whitespace", WhitespaceRoutingTest.bytesOf(WhitespaceRoutingTest.TEXTS));
    }

    /**
     * Two stages on the GPU, each row reading a prefix of its own length in one parallel pass and then stepping:
     * the inner stages step row subsets (their KV caches, Mamba states and router rows gathered on the device).
     */
    @Test
    void prefillThenStepDecodingOfTwoStagesOnCudaEqualsTheParallelForward() {
        needsGpu();
        int b = 3, l = 24;
        int[] prefix = {2, 11, 5};
        Tensor bytes = Tensor.randint(new Generator(15), 0, 256, b, l);
        try (HNetLM m = new HNetLM(HNetConfig.preset("hnet-2stage-tiny"), new Generator(16)); Scope s = Scope.open()) {
            m.to(Device.cuda(0));
            float[] full = m.forward(bytes).logits().toFloatArray();
            long[] v = bytes.toLongArray();
            try (HNet.StageState st = m.newDecodeState(b, l)) {
                int[] at = prefix.clone();
                float[][] last = new float[b][];
                for (int r = 0; r < b; r++) {
                    float[] pre = m.prefill(Tensor.of(java.util.Arrays.copyOfRange(v, r * l, r * l + prefix[r]), prefix[r]), st, r).toFloatArray();
                    last[r] = java.util.Arrays.copyOfRange(pre, (prefix[r] - 1) * 256, prefix[r] * 256);
                }
                for (int r = 0; r < b; r++) assertLogitsAt(full, last[r], 0, r, prefix[r] - 1, l);
                while (at[1] < l) { // row 1 has the longest prefix: stop when it reaches the end
                    long[] col = new long[b];
                    for (int r = 0; r < b; r++) col[r] = v[r * l + at[r]];
                    float[] step = m.step(Tensor.of(col, b), st).toFloatArray();
                    for (int r = 0; r < b; r++) assertLogitsAt(full, step, r, r, at[r]++, l);
                }
            }
        }
    }

    private static void assertLogitsAt(float[] full, float[] got, int gotRow, int row, int t, int l) {
        for (int k = 0; k < 256; k++) {
            float want = full[(row * l + t) * 256 + k];
            assertEquals(want, got[gotRow * 256 + k], 2e-3f + 2e-3f * Math.abs(want), "row " + row + " position " + t);
        }
    }

    private static void assertStepEqualsForwardOnCuda(String preset, Tensor bytes) {
        int b = bytes.size(0), l = bytes.size(1);
        try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(13)); Scope s = Scope.open()) {
            m.to(Device.cuda(0));
            float[] full = m.forward(bytes).logits().toFloatArray();
            long[] v = bytes.toLongArray();
            try (HNet.StageState st = m.newDecodeState(b, l)) {
                for (int t = 0; t < l; t++) {
                    long[] col = new long[b];
                    for (int r = 0; r < b; r++) col[r] = v[r * l + t];
                    float[] step = m.step(Tensor.of(col, b), st).toFloatArray();
                    for (int r = 0; r < b; r++) {
                        for (int k = 0; k < 256; k++) {
                            float want = full[(r * l + t) * 256 + k];
                            assertEquals(want, step[r * 256 + k], 2e-3f + 2e-3f * Math.abs(want), "row " + r + " position " + t);
                        }
                    }
                }
            }
        }
    }
}
