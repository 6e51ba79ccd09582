package dev.tessera.kernels.swiglu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/** The CUDA SwiGLU against the float64 reference, forward and backward. */
@Tag("gpu")
class SwiGluCudaTest {
    private static void close(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol * Math.max(1, Math.abs(expected[i])), what + " at " + i);
        }
    }

    @Test
    void matchesTheReferenceForEveryDtypeAndOddSizes() {
        Device gpu = CudaTests.assumeGpu();
        for (int[] shape : new int[][] {{1, 2}, {3, 5, 14}, {7, 262}}) {
            for (DType t : new DType[] {DType.F64, DType.F32, DType.BF16, DType.F16}) {
                double tol = t == DType.F64 ? 1e-12 : t == DType.F32 ? 1e-5 : 2e-2;
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randn(new Generator(shape.length), shape).mul(3).to(t);
                    Tensor x64 = x.to(DType.F64).requiresGrad(true);
                    Tensor y64 = SwiGlu.apply(x64);
                    Tensor w = Tensor.randn(new Generator(11), y64.shape()).to(DType.F64);
                    y64.mul(w).sum().backward();
                    Tensor xg = x.to(gpu).detach().requiresGrad(true);
                    Tensor yg = SwiGlu.apply(xg);
                    yg.mul(w.to(t).to(gpu)).sum().backward();
                    close(y64.detach().toDoubleArray(), yg.to(Device.cpu()).toDoubleArray(), tol, "y " + t);
                    close(x64.grad().toDoubleArray(), xg.grad().to(Device.cpu()).toDoubleArray(), tol * 4, "dx " + t);
                }
            }
        }
    }
}
