package dev.tessera.kernels.swiglu;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;

/** Launches native/cuda/kernels/swiglu.cu on contiguous CUDA tensors (F32, F64, BF16, F16). */
final class SwiGluCuda {
    private static final int THREADS = 256;

    private SwiGluCuda() {}

    private static int blocks(CudaDevice d, long n) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * d.multiprocessorCount()));
    }

    static void forward(Tensor x, Tensor y, int rows, int f) {
        long n = (long) rows * f;
        if (n == 0) return;
        CudaDevice d = CudaDevice.get(x.device().index());
        d.kernel(FusedPtx.SOURCE, "swiglu", "swiglu_forward_" + CudaLayout.suffix(x.dtype())).grid(blocks(d, n)).block(THREADS)
                .ptr(x.deviceAddress()).ptr(y.deviceAddress()).i64(rows).i64(f).launch();
    }

    static void backward(Tensor x, Tensor dy, Tensor dx, int rows, int f) {
        long n = (long) rows * f;
        if (n == 0) return;
        CudaDevice d = CudaDevice.get(x.device().index());
        d.kernel(FusedPtx.SOURCE, "swiglu", "swiglu_backward_" + CudaLayout.suffix(x.dtype())).grid(blocks(d, n)).block(THREADS)
                .ptr(x.deviceAddress()).ptr(dy.deviceAddress()).ptr(dx.deviceAddress()).i64(rows).i64(f).launch();
    }
}
