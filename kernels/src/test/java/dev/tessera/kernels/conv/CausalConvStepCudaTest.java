package dev.tessera.kernels.conv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA step: the unfused step's bits on the device (F32, F64), and the CPU's result in every dtype. */
@Tag("gpu")
class CausalConvStepCudaTest {
    @Test
    void givesTheUnfusedStepsBitsOnTheDevice() {
        Device gpu = CudaTests.assumeGpu();
        CausalConvStepTest.checkAgainstUnfused(gpu, DType.F32);
        CausalConvStepTest.checkAgainstUnfused(gpu, DType.F64);
    }

    @Test
    void followsTheCpuInEveryDtype() {
        Device gpu = CudaTests.assumeGpu();
        for (DType dt : new DType[] {DType.F64, DType.F32, DType.BF16, DType.F16}) {
            double tol = dt == DType.F64 ? 1e-12 : dt == DType.F32 ? 1e-5 : 2e-2;
            try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                CausalConvStepTest.Case c = CausalConvStepTest.Case.random(17, 3, 70, 4, true, dt, gpu);
                CausalConvStepTest.Case cpu = new CausalConvStepTest.Case(c.state().to(Device.cpu()).to(DType.F64), c.x().to(Device.cpu()).to(DType.F64),
                        c.weight().to(Device.cpu()).to(DType.F64), c.bias().to(Device.cpu()).to(DType.F64));
                double[] want = CausalConvStep.apply(cpu.state(), cpu.x(), cpu.weight(), cpu.bias()).toDoubleArray();
                double[] got = CausalConvStep.apply(c.state(), c.x(), c.weight(), c.bias()).to(Device.cpu()).toDoubleArray();
                for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], tol * Math.max(1, Math.abs(want[i])), dt + " y at " + i);
                double[] ws = cpu.state().toDoubleArray(), gs = c.state().to(Device.cpu()).toDoubleArray();
                for (int i = 0; i < ws.length; i++) assertEquals(ws[i], gs[i], 0, dt + " state at " + i);
            }
        }
    }
}
