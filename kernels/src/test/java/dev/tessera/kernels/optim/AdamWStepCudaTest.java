package dev.tessera.kernels.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.CudaTests;
import dev.tessera.kernels.testing.DryRunDevices;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA AdamW step against the CPU's (the float64 reference for F64), over three steps. */
@Tag("gpu")
class AdamWStepCudaTest {
    @Test
    void matchesTheCpu() {
        Device gpu = CudaTests.assumeGpu();
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            for (int n : new int[] {1, 1037, 300_001}) {
                try (Scope s = Scope.open()) {
                    Generator gen = new Generator(n);
                    Tensor[] cpu = {Tensor.randn(gen, n).to(t), null, Tensor.zeros(n).to(t), Tensor.zeros(n).to(t)};
                    Tensor[] dev = {cpu[0].to(gpu), null, cpu[2].to(gpu), cpu[3].to(gpu)};
                    for (int k = 1; k <= 3; k++) {
                        cpu[1] = Tensor.randn(gen, n).mul(0.1).to(t);
                        dev[1] = cpu[1].to(gpu);
                        AdamWStep.Hyper h = new AdamWStep.Hyper(3e-3, 0.9, 0.95, 1e-8, k == 2 ? 0 : 0.1, 1 - Math.pow(0.9, k), 1 - Math.pow(0.95, k));
                        AdamWStep.apply(cpu[0], cpu[1], cpu[2], cpu[3], h);
                        AdamWStep.apply(dev[0], dev[1], dev[2], dev[3], h);
                    }
                    double tol = t == DType.F64 ? 1e-13 : 1e-6;
                    for (int i : new int[] {0, 2, 3}) {
                        double[] want = cpu[i].toDoubleArray(), got = dev[i].to(Device.cpu()).toDoubleArray();
                        for (int j = 0; j < n; j++) assertEquals(want[j], got[j], tol * Math.max(1e-3, Math.abs(want[j])), t + " n=" + n + " tensor " + i);
                    }
                }
            }
        }
    }

    /**
     * A list of parameters of two dtypes, with their own learning rates and decays (one of them empty, one of many
     * blocks): applyAll gives the bits of one apply per parameter, in one launch per dtype.
     */
    @Test
    void applyAllEqualsOneApplyPerParameterInOneLaunchPerDtype() {
        Device gpu = CudaTests.assumeGpu();
        int[] sizes = {1037, 1, 0, 2_500_001, 64}; // 2.5 M: more than 32 blocks of 256 per multiprocessor, so the block loop turns
        DType[] types = {DType.F32, DType.F64, DType.F32, DType.F32, DType.F64};
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(17);
            List<Tensor[]> one = new ArrayList<>(), all = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                Tensor[] t = {Tensor.randn(gen, sizes[i]), Tensor.randn(gen, sizes[i]).mul(0.1), Tensor.randn(gen, sizes[i]).mul(0.01),
                    Tensor.rand(gen, sizes[i]).mul(0.001)};
                Tensor[] a = new Tensor[4], b = new Tensor[4];
                for (int k = 0; k < 4; k++) {
                    a[k] = t[k].to(types[i]).to(gpu);
                    b[k] = t[k].to(types[i]).to(gpu);
                }
                one.add(a);
                all.add(b);
            }
            List<AdamWStep.Update> updates = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                double lr = 1e-3 * (i + 1), decay = i % 2 == 0 ? 0.1 : 0;
                Tensor[] a = one.get(i), b = all.get(i);
                AdamWStep.apply(a[0], a[1], a[2], a[3], new AdamWStep.Hyper(lr, 0.9, 0.95, 1e-8, decay, 0.19, 0.0975));
                updates.add(new AdamWStep.Update(b[0], b[1], b[2], b[3], lr, decay));
            }
            AdamWStep.applyAll(updates, 0.9, 0.95, 1e-8, 0.19, 0.0975);
            for (int i = 0; i < sizes.length; i++) {
                for (int k : new int[] {0, 2, 3}) {
                    assertArrayEquals(one.get(i)[k].toDoubleArray(), all.get(i)[k].toDoubleArray(), "parameter " + i + " tensor " + k);
                }
            }
        }
        DryRunDevices.install(7);
        DryRunDevices.clearLaunches(7);
        try (Scope s = Scope.open()) {
            List<AdamWStep.Update> updates = new ArrayList<>();
            for (int i = 0; i < sizes.length; i++) {
                Tensor w = Tensor.zeros(sizes[i]).to(types[i]).to(Device.cuda(7));
                updates.add(new AdamWStep.Update(w, w.clone(), w.clone(), w.clone(), 1e-3, 0));
            }
            AdamWStep.applyAll(updates, 0.9, 0.95, 1e-8, 0.19, 0.0975);
            assertEquals(List.of("adamw_multi_f32", "adamw_multi_f64"), DryRunDevices.launchLog(7));
        }
    }

    /** 100 parameters: three launches of at most 48, the bits of one apply each. */
    @Test
    void manyParametersGoInBatchesOfFortyEight() {
        Device gpu = CudaTests.assumeGpu();
        try (Scope s = Scope.open()) {
            Generator gen = new Generator(23);
            List<Tensor[]> one = new ArrayList<>(), all = new ArrayList<>();
            List<AdamWStep.Update> updates = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                int n = i * 37 % 500 + 1;
                Tensor[] t = {Tensor.randn(gen, n), Tensor.randn(gen, n).mul(0.1), Tensor.randn(gen, n).mul(0.01), Tensor.rand(gen, n).mul(0.001)};
                Tensor[] a = new Tensor[4], b = new Tensor[4];
                for (int k = 0; k < 4; k++) {
                    a[k] = t[k].to(gpu);
                    b[k] = t[k].to(gpu);
                }
                double lr = 1e-3 * (1 + i % 7);
                AdamWStep.apply(a[0], a[1], a[2], a[3], new AdamWStep.Hyper(lr, 0.9, 0.95, 1e-8, 0.05, 0.19, 0.0975));
                updates.add(new AdamWStep.Update(b[0], b[1], b[2], b[3], lr, 0.05));
                one.add(a);
                all.add(b);
            }
            AdamWStep.applyAll(updates, 0.9, 0.95, 1e-8, 0.19, 0.0975);
            for (int i = 0; i < 100; i++) {
                for (int k : new int[] {0, 2, 3}) assertArrayEquals(one.get(i)[k].toDoubleArray(), all.get(i)[k].toDoubleArray(), "parameter " + i);
            }
        }
        DryRunDevices.install(7);
        DryRunDevices.clearLaunches(7);
        try (Scope s = Scope.open()) {
            List<AdamWStep.Update> updates = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Tensor w = Tensor.zeros(3).to(Device.cuda(7));
                updates.add(new AdamWStep.Update(w, w.clone(), w.clone(), w.clone(), 1e-3, 0));
            }
            AdamWStep.applyAll(updates, 0.9, 0.95, 1e-8, 0.19, 0.0975);
            assertEquals(List.of("adamw_multi_f32", "adamw_multi_f32", "adamw_multi_f32"), DryRunDevices.launchLog(7));
        }
    }

    @Test
    void applyAllRefusesAMismatchBeforeApplyingAny() {
        Device gpu = CudaTests.assumeGpu();
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.ones(4).to(gpu), bad = Tensor.ones(5).to(gpu);
            List<AdamWStep.Update> updates = List.of(new AdamWStep.Update(w, w.clone(), w.clone(), w.clone(), 1, 0),
                    new AdamWStep.Update(bad, w.clone(), w.clone(), w.clone(), 1, 0));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AdamWStep.applyAll(updates, 0.9, 0.95, 1e-8, 1, 1));
            assertTrue(e.getMessage().contains("update 1") && e.getMessage().contains("[5]"), e.getMessage());
            assertArrayEquals(new double[] {1, 1, 1, 1}, w.toDoubleArray(), "nothing applied");
        }
    }
}
