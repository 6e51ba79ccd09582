package dev.tessera.kernels.optim;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;
import java.util.List;

/**
 * Launches native/cuda/kernels/adamw.cu on contiguous CUDA tensors (F32, F64): one launch for one parameter, or one
 * for a list of them (a table of their addresses, lengths, blocks, learning rates and decays, uploaded per call). A
 * tensor gets the same blocks either way.
 */
final class AdamWStepCuda {
    private static final int THREADS = 256;
    /** Words per tensor in adamw_multi's table (ADAMW_FIELDS in adamw.cu). */
    private static final int FIELDS = 9;

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
        long[] table = new long[updates.size() * FIELDS];
        long first = 0;
        for (int i = 0; i < updates.size(); i++) {
            AdamWStep.Update u = updates.get(i);
            long n = u.w().numel(), blocks = blocks(d, n);
            long[] row = {u.w().deviceAddress(), u.g().deviceAddress(), u.m().deviceAddress(), u.v().deviceAddress(), n, first, blocks,
                Double.doubleToRawLongBits(u.lr()), Double.doubleToRawLongBits(u.weightDecay())};
            System.arraycopy(row, 0, table, i * FIELDS, FIELDS);
            first += blocks;
        }
        if (first > Integer.MAX_VALUE) throw new IllegalArgumentException("adamw_step: " + first + " blocks exceed one launch's grid");
        try (DeviceBuffer t = d.upload(table)) {
            d.kernel(FusedPtx.SOURCE, "adamw", "adamw_multi_" + CudaLayout.suffix(w0.dtype())).grid((int) first).block(THREADS)
                    .ptr(t.address()).i32(updates.size()).f64(beta1).f64(beta2).f64(eps).f64(c1).f64(c2).launch();
        }
    }
}
