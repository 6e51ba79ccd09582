package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.nn.Linear;
import dev.tessera.nn.Module;
import dev.tessera.nn.Parameter;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Models whose linear weights are stored in BF16 ({@link Module#storeLinearWeightsAs}): every preset family computes
 * exactly what the same model computes with F32 weights rounded to BF16 — forward logits, decoding steps and prefill,
 * bit for bit on the CPU — in F32 states, with the linear weights' memory halved.
 */
class Bf16WeightsTest {
    private static final List<String> MODELS = List.of("hnet-tiny", "hnet-2stage-tiny", "transformer-tiny", "mamba-tiny");

    /** Two copies of one random model: the first with its linear weights rounded to BF16 but kept F32, the second stored in BF16. */
    private static ByteLanguageModel[] pair(String preset) {
        ByteLanguageModel rounded = ModelCatalog.create(preset, new Generator(5)), stored = ModelCatalog.create(preset, new Generator(5));
        rounded.module().storeLinearWeightsAs(DType.BF16).storeLinearWeightsAs(DType.F32); // BF16 → F32 is exact
        stored.module().storeLinearWeightsAs(DType.BF16);
        return new ByteLanguageModel[] {rounded, stored};
    }

    private static List<Parameter> linearWeights(Module m) {
        List<Parameter> out = new ArrayList<>();
        if (m instanceof Linear l) out.add(l.weight());
        for (Module c : m.children().values()) out.addAll(linearWeights(c));
        return out;
    }

    @Test
    @SuppressWarnings("try")
    void forwardDecodingAndPrefillEqualTheRoundedF32ModelBitForBit() {
        for (String preset : MODELS) {
            ByteLanguageModel[] m = pair(preset);
            try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                Tensor bytes = Tensor.randint(new Generator(9), 0, 256, 3, 40);
                assertArrayEquals(m[0].forward(bytes).logits().toFloatArray(), m[1].forward(bytes).logits().toFloatArray(), preset + " forward");
                long[] v = bytes.toLongArray();
                try (ByteLanguageModel.Decoder d0 = m[0].newDecoder(3, 64); ByteLanguageModel.Decoder d1 = m[1].newDecoder(3, 64)) {
                    long[][] prompts = {java.util.Arrays.copyOfRange(v, 0, 7), java.util.Arrays.copyOfRange(v, 40, 41), java.util.Arrays.copyOfRange(v, 80, 92)};
                    assertArrayEquals(d0.prefill(prompts).toFloatArray(), d1.prefill(prompts).toFloatArray(), preset + " prefill");
                    for (int t = 0; t < 20; t++) {
                        try (Scope step = Scope.open()) {
                            Tensor col = Tensor.of(new long[] {v[t], v[40 + t], v[80 + t]}, 3);
                            Tensor a = d0.step(col), b = d1.step(col);
                            assertEquals(DType.F32, b.dtype());
                            assertArrayEquals(a.toFloatArray(), b.toFloatArray(), preset + " step " + t);
                        }
                    }
                }
            } finally {
                m[0].close();
                m[1].close();
            }
        }
    }

    @Test
    void linearWeightsTakeHalfTheBytesAndTheModelStillComputesInF32() {
        try (ByteLanguageModel m = ModelCatalog.create("hnet-tiny", new Generator(1))) {
            List<Parameter> linear = linearWeights(m.module());
            long linearElements = linear.stream().mapToLong(Parameter::numel).sum();
            assertTrue(linearElements > m.parameterCount() / 2, "most of hnet-tiny is linear weights: " + linearElements + " of " + m.parameterCount());
            long before = bytes(m.module());
            m.module().storeLinearWeightsAs(DType.BF16);
            assertEquals(before - 2 * linearElements, bytes(m.module()), "each linear weight element 2 bytes instead of 4");
            for (Parameter p : linear) {
                assertEquals(DType.BF16, p.value().dtype());
                assertEquals(DType.F32, p.computeDtype());
            }
            for (Map.Entry<String, Parameter> e : m.module().namedParameters().entrySet()) {
                if (!linear.contains(e.getValue())) assertEquals(DType.F32, e.getValue().value().dtype(), e.getKey() + " stays F32");
            }
            assertEquals(DType.F32, m.module().dtype(), "decoding states stay F32");
            m.module().storeLinearWeightsAs(DType.F32);
            assertEquals(before, bytes(m.module()));
            assertThrows(IllegalArgumentException.class, () -> m.module().storeLinearWeightsAs(DType.I64));
        }
    }

    /**
     * On {@code cuda:0} a model with BF16 linear weights (its products promote the weight, as the CUDA backend has no
     * F32 × BF16 kernel) follows the CPU's: forward logits and decoding steps to F32 rounding, states in F32.
     */
    @Test
    @Tag("gpu")
    @SuppressWarnings("try")
    void onCudaTheModelFollowsTheCpu() {
        String why = dev.tessera.kernels.testing.GpuOrEmulator.unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
        for (String preset : List.of("hnet-tiny", "transformer-tiny")) {
            try (ByteLanguageModel cpu = ModelCatalog.create(preset, new Generator(5)); ByteLanguageModel gpu = ModelCatalog.create(preset, new Generator(5));
                 Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                cpu.module().storeLinearWeightsAs(DType.BF16);
                gpu.module().storeLinearWeightsAs(DType.BF16);
                gpu.onDevice(dev.tessera.runtime.Device.cuda(0));
                assertEquals(DType.F32, gpu.module().dtype());
                Tensor bytes = Tensor.randint(new Generator(9), 0, 256, 2, 24);
                assertClose(cpu.forward(bytes).logits().toFloatArray(),
                        gpu.forward(bytes.to(dev.tessera.runtime.Device.cuda(0))).logits().to(dev.tessera.runtime.Device.cpu()).toFloatArray(), preset + " forward");
                long[] v = bytes.toLongArray();
                try (ByteLanguageModel.Decoder dc = cpu.newDecoder(2, 32); ByteLanguageModel.Decoder dg = gpu.newDecoder(2, 32)) {
                    for (int t = 0; t < 12; t++) {
                        try (Scope step = Scope.open()) {
                            Tensor col = Tensor.of(new long[] {v[t], v[24 + t]}, 2);
                            assertClose(dc.step(col).toFloatArray(),
                                    dg.step(col.to(dev.tessera.runtime.Device.cuda(0))).to(dev.tessera.runtime.Device.cpu()).toFloatArray(), preset + " step " + t);
                        }
                    }
                }
            }
        }
    }

    private static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= 1e-3f + 1e-3f * Math.abs(want[i]), what + " at " + i + ": " + got[i] + " against " + want[i]);
        }
    }

    private static long bytes(Module m) {
        long n = 0;
        for (Parameter p : m.parameters()) n += p.numel() * p.value().dtype().byteSize();
        return n;
    }
}
