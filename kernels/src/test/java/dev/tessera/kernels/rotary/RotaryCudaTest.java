package dev.tessera.kernels.rotary;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA rotary embedding against the float64 reference, forward and backward, for every dtype. */
@Tag("gpu")
class RotaryCudaTest {
    @Test
    void matchesTheReferenceForEveryDtypeAndPartialRotation() {
        Device gpu = CudaTests.assumeGpu();
        for (int[] pr : new int[][] {{16, 8}, {64, 64}, {24, 12}}) {
            int p = pr[0], half = pr[1] / 2, l = 37;
            for (DType t : new DType[] {DType.F64, DType.F32, DType.BF16, DType.F16}) {
                double tol = t == DType.F64 ? 1e-12 : t == DType.F32 ? 1e-5 : 2e-2;
                DType tables = t == DType.F64 ? DType.F64 : DType.F32;
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randn(new Generator(p), 2, 3, l, p).to(t);
                    Tensor[] t64 = RotaryTest.tables(p, l, half, DType.F64);
                    Tensor x64 = x.to(DType.F64).requiresGrad(true);
                    Tensor y64 = Rotary.apply(x64, t64[0], t64[1]);
                    Tensor w = Tensor.randn(new Generator(11), y64.shape()).to(DType.F64);
                    y64.mul(w).sum().backward();
                    Tensor xg = x.to(gpu).detach().requiresGrad(true);
                    Tensor yg = Rotary.apply(xg, t64[0].to(tables).to(gpu), t64[1].to(tables).to(gpu));
                    yg.mul(w.to(t).to(gpu)).sum().backward();
                    close(y64.detach().toDoubleArray(), yg.to(Device.cpu()).toDoubleArray(), tol, "y " + t + " P=" + p);
                    close(x64.grad().toDoubleArray(), xg.grad().to(Device.cpu()).toDoubleArray(), tol * 4, "dx " + t + " P=" + p);
                }
            }
        }
    }

    private static void close(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], tol * Math.max(1, Math.abs(expected[i])), what + " at " + i);
    }
}
