package dev.tessera.kernels.conv;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;

/** Launches native/cuda/kernels/conv_step.cu: one thread per (row, channel), which also moves that channel's state. */
final class CausalConvStepCuda {
    private static final int THREADS = 256;

    private CausalConvStepCuda() {}

    static void run(Tensor state, Tensor x, long xRow, Tensor w, Tensor bias, Tensor y, int batch, int ch, int k) {
        long n = (long) batch * ch;
        if (n == 0) return;
        CudaDevice d = CudaDevice.get(x.device().index());
        int blocks = (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * d.multiprocessorCount()));
        d.kernel(FusedPtx.SOURCE, "conv_step", "causal_conv_step_" + CudaLayout.suffix(x.dtype())).grid(blocks).block(THREADS)
                .ptr(state.deviceAddress()).ptr(x.deviceAddress()).i64(xRow).ptr(w.deviceAddress()).ptr(bias == null ? 0 : bias.deviceAddress())
                .ptr(y.deviceAddress()).i64(batch).i32(ch).i32(k).launch();
    }
}
