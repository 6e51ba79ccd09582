package dev.tessera.kernels.optim;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;

/** Launches native/cuda/kernels/adamw.cu on contiguous CUDA tensors (F32, F64): one launch per parameter. */
final class AdamWStepCuda {
    private static final int THREADS = 256;

    private AdamWStepCuda() {}

    static void step(Tensor w, Tensor g, Tensor m, Tensor v, long n, AdamWStep.Hyper h) {
        CudaDevice d = CudaDevice.get(w.device().index());
        int blocks = (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * d.multiprocessorCount()));
        d.kernel(FusedPtx.SOURCE, "adamw", "adamw_step_" + CudaLayout.suffix(w.dtype())).grid(blocks).block(THREADS)
                .ptr(w.deviceAddress()).ptr(g.deviceAddress()).ptr(m.deviceAddress()).ptr(v.deviceAddress()).i64(n)
                .f64(h.lr()).f64(h.beta1()).f64(h.beta2()).f64(h.eps()).f64(h.weightDecay()).f64(h.c1()).f64(h.c2()).launch();
    }
}
