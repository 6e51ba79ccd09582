package dev.tessera.kernels.norm;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA gated RMSNorm against the float64 reference, forward and backward, with the gate a strided slice. */
@Tag("gpu")
class GatedRmsNormCudaTest {
    @Test
    void matchesTheReferenceForEveryDtypeAndOddSizes() {
        Device gpu = CudaTests.assumeGpu();
        for (int[] shape : new int[][] {{1, 5}, {3, 4, 37}, {300, 64}}) { // 300 rows: more than one chunk of the weight's sums
            for (DType t : new DType[] {DType.F64, DType.F32, DType.BF16, DType.F16}) {
                double tol = t == DType.F64 ? 1e-12 : t == DType.F32 ? 1e-4 : 5e-2;
                try (Scope s = Scope.open()) {
                    int d = shape[shape.length - 1];
                    int[] wide = shape.clone();
                    wide[wide.length - 1] = d + 6;
                    Generator g = new Generator(d);
                    Tensor x = Tensor.randn(g, shape).to(t), zw = Tensor.randn(g, wide).mul(2).to(t), w = Tensor.randn(g, d).add(1).to(t);
                    Tensor dy = Tensor.randn(g, shape).to(t);
                    Tensor x64 = x.to(DType.F64).requiresGrad(true), zw64 = zw.to(DType.F64).requiresGrad(true), w64 = w.to(DType.F64).requiresGrad(true);
                    Tensor y64 = GatedRmsNorm.apply(x64, zw64.mul(1).narrow(-1, 4, d), w64, 1e-5);
                    y64.backward(dy.to(DType.F64));
                    Tensor xg = x.to(gpu).requiresGrad(true), zg = zw.to(gpu).requiresGrad(true), wg = w.to(gpu).requiresGrad(true);
                    Tensor yg = GatedRmsNorm.apply(xg, zg.mul(1).narrow(-1, 4, d), wg, 1e-5);
                    yg.backward(dy.to(gpu));
                    GatedRmsNormTest.close(y64.toDoubleArray(), yg.to(Device.cpu()).to(DType.F64).toDoubleArray(), tol, "y " + t);
                    GatedRmsNormTest.close(x64.grad().toDoubleArray(), xg.grad().to(Device.cpu()).to(DType.F64).toDoubleArray(), tol * 4, "dx " + t);
                    GatedRmsNormTest.close(zw64.grad().toDoubleArray(), zg.grad().to(Device.cpu()).to(DType.F64).toDoubleArray(), tol * 4, "dz " + t);
                    GatedRmsNormTest.close(w64.grad().toDoubleArray(), wg.grad().to(Device.cpu()).to(DType.F64).toDoubleArray(), tol * 4 * Math.sqrt(shape[0]), "dw " + t);
                }
            }
        }
    }
}
