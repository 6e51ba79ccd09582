package dev.tessera.kernels.rotary;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;

/** Launches native/cuda/kernels/rotary.cu on contiguous CUDA tensors (F32, F64, BF16, F16; tables F32 or F64). */
final class RotaryCuda {
    private static final int THREADS = 256;

    private RotaryCuda() {}

    static void rotate(Tensor src, Tensor dst, Tensor cos, Tensor sin, long rows, int l, int p, int half, int sign) {
        long n = rows * p;
        CudaDevice d = CudaDevice.get(src.device().index());
        int blocks = (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * d.multiprocessorCount()));
        d.kernel(FusedPtx.SOURCE, "rotary", "rotary_" + CudaLayout.suffix(src.dtype())).grid(blocks).block(THREADS)
                .ptr(src.deviceAddress()).ptr(dst.deviceAddress()).ptr(cos.deviceAddress()).ptr(sin.deviceAddress())
                .i64(rows).i64(l).i64(p).i64(half).i32(sign).launch();
    }
}
