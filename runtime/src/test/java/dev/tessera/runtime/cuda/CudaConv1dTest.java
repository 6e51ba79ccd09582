package dev.tessera.runtime.cuda;

import static dev.tessera.runtime.cuda.CudaExpect.close;
import static dev.tessera.runtime.cuda.CudaExpect.gpu;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Functional.causalConv1d on cuda:0 against the CPU: output and the x, weight and bias gradients, with and without
 * bias, short and long kernels (K = 11 needs two tap passes for dw), several batches, and packed sequences.
 */
@Tag("gpu")
class CudaConv1dTest {
    private final Generator gen = new Generator(31);

    private void check(DType dt, int batch, int len, int ch, int k, boolean withBias, int[] cu) {
        double tol = dt == DType.F64 ? 1e-10 : dt == DType.F32 ? 1e-4 : 3e-2;
        String what = dt + " B" + batch + " L" + len + " C" + ch + " K" + k + (withBias ? " bias" : "") + (cu == null ? "" : " packed");
        try (Scope s = Scope.open()) { // every tensor of the check released here, not left to the garbage collector
            Tensor x = Tensor.randn(gen, batch, len, ch).to(dt).requiresGrad(true);
            Tensor w = Tensor.randn(gen, ch, k).to(dt).requiresGrad(true);
            Tensor b = withBias ? Tensor.randn(gen, ch).to(dt).requiresGrad(true) : null;
            Tensor proj = Tensor.randn(gen, batch, len, ch).to(dt);
            Tensor y = Functional.causalConv1d(x, w, b, cu);
            y.mul(proj).sum().backward();

            Tensor xg = gpu(x, true), wg = gpu(w, true), bg = withBias ? gpu(b, true) : null;
            Tensor yg = Functional.causalConv1d(xg, wg, bg, cu);
            close(what + ": y", y.detach(), yg.detach(), tol);
            yg.mul(proj.to(CudaExpect.CUDA)).sum().backward();
            close(what + ": dx", x.grad(), xg.grad(), tol);
            // dw and db sum over B·L positions: allow for the longer sums
            close(what + ": dw", w.grad(), wg.grad(), tol * 10);
            if (withBias) close(what + ": db", b.grad(), bg.grad(), tol * 10);
        }
    }

    @Test
    void matchesCpu() {
        Gpu.assumeAvailable();
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            check(dt, 2, 37, 5, 4, true, null);
            check(dt, 3, 64, 48, 4, false, null);
            check(dt, 1, 300, 70, 11, true, null); // two tap passes, channels not a multiple of 32
            check(dt, 4, 3, 8, 4, true, null);     // K longer than the sequence
        }
    }

    @Test
    void packedSequences() {
        Gpu.assumeAvailable();
        int[] cu = {0, 3, 4, 4, 9, 11, 40};
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            check(dt, 1, 40, 6, 4, true, cu);
            check(dt, 1, 40, 33, 9, false, cu);
        }
    }
}
