package dev.tessera.kernels.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
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
}
