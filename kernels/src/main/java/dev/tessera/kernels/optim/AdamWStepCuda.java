package dev.tessera.kernels.optim;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Launches native/cuda/kernels/adamw.cu on contiguous CUDA tensors (F32, F64): one launch for one parameter, or one
 * per {@link #BATCH} parameters of a list (their addresses, lengths, blocks, learning rates and decays passed by value
 * as a struct). A tensor gets the same blocks either way.
 */
final class AdamWStepCuda {
    private static final int THREADS = 256;
    /** Tensors per adamw_multi launch (ADAMW_BATCH in adamw.cu); its struct has nine arrays of this many 8-byte words. */
    static final int BATCH = 48;

    private AdamWStepCuda() {}

    private static long blocks(CudaDevice d, long n) { return Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * d.multiprocessorCount())); }

    static void step(Tensor w, Tensor g, Tensor m, Tensor v, long n, AdamWStep.Hyper h) {
        CudaDevice d = CudaDevice.get(w.device().index());
        d.kernel(FusedPtx.SOURCE, "adamw", "adamw_step_" + CudaLayout.suffix(w.dtype())).grid((int) blocks(d, n)).block(THREADS)
                .ptr(w.deviceAddress()).ptr(g.deviceAddress()).ptr(m.deviceAddress()).ptr(v.deviceAddress()).i64(n)
                .f64(h.lr()).f64(h.beta1()).f64(h.beta2()).f64(h.eps()).f64(h.weightDecay()).f64(h.c1()).f64(h.c2()).launch();
    }

    /** Non-empty updates, all of one device and dtype. */
    static void stepAll(List<AdamWStep.Update> updates, double beta1, double beta2, double eps, double c1, double c2) {
        Tensor w0 = updates.get(0).w();
        CudaDevice d = CudaDevice.get(w0.device().index());
        String kernel = "adamw_multi_" + CudaLayout.suffix(w0.dtype());
        for (int from = 0; from < updates.size(); from += BATCH) {
            List<AdamWStep.Update> part = updates.subList(from, Math.min(updates.size(), from + BATCH));
            List<long[]> entries = new ArrayList<>();
            long first = 0;
            for (AdamWStep.Update u : part) {
                long n = u.w().numel(), blocks = blocks(d, n);
                entries.add(new long[] {u.w().deviceAddress(), u.g().deviceAddress(), u.m().deviceAddress(), u.v().deviceAddress(), n, first,
                    blocks, Double.doubleToRawLongBits(u.lr()), Double.doubleToRawLongBits(u.weightDecay())});
                first += blocks;
            }
            d.kernel(FusedPtx.SOURCE, "adamw", kernel).grid((int) first).block(THREADS)
                    .struct(StructOfArrays.pack(BATCH, entries)).i32(part.size()).f64(beta1).f64(beta2).f64(eps).f64(c1).f64(c2).launch();
        }
    }
}
