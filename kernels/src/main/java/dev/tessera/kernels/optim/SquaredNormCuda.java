package dev.tessera.kernels.optim;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Launches native/cuda/kernels/squared_norm.cu: the per-block partial sums of up to {@link #BATCH} tensors of one dtype
 * per launch (their addresses, lengths and blocks passed by value as a struct), one finishing block over all the
 * partials in order, one read-back.
 */
final class SquaredNormCuda {
    private static final int THREADS = 256, FINISH_THREADS = 1024;
    /** Tensors per sq_partials launch (SQ_BATCH in squared_norm.cu); its struct has four arrays of this many words. */
    static final int BATCH = 64;

    private SquaredNormCuda() {}

    static double sum(List<Tensor> tensors) {
        CudaDevice d = CudaDevice.get(tensors.get(0).device().index());
        try (Scope s = Scope.open()) {
            // per dtype, in first-seen order: (address, length, blocks) of each tensor that has elements
            Map<DType, List<long[]>> byType = new LinkedHashMap<>();
            long total = 0;
            for (Tensor t0 : tensors) {
                long n = t0.numel();
                long blocks = Math.min((n + THREADS - 1) / THREADS, 4L * d.multiprocessorCount());
                if (blocks == 0) continue;
                Tensor t = t0.contiguous();
                byType.computeIfAbsent(t.dtype(), k -> new ArrayList<>()).add(new long[] {t.deviceAddress(), n, blocks});
                total += blocks;
            }
            if (total == 0) return 0;
            double[] out = new double[1];
            try (DeviceBuffer partials = d.temporary(8 * total); DeviceBuffer result = d.temporary(8)) {
                long slot = 0;
                for (var e : byType.entrySet()) {
                    List<long[]> all = e.getValue();
                    for (int from = 0; from < all.size(); from += BATCH) {
                        List<long[]> part = all.subList(from, Math.min(all.size(), from + BATCH));
                        List<long[]> entries = new ArrayList<>();
                        long first = 0;
                        for (long[] t : part) {
                            entries.add(new long[] {t[0], t[1], first, t[2]});
                            first += t[2];
                        }
                        d.kernel(FusedPtx.SOURCE, "squared_norm", "sq_partials_" + CudaLayout.suffix(e.getKey())).grid((int) first).block(THREADS)
                                .struct(StructOfArrays.pack(BATCH, entries)).i32(part.size()).ptr(partials.address() + 8 * slot).launch();
                        slot += first;
                    }
                }
                d.kernel(FusedPtx.SOURCE, "squared_norm", "sq_finish").grid(1).block(FINISH_THREADS)
                        .ptr(partials.address()).i64(total).ptr(result.address()).launch();
                d.copyToHost(result.address(), MemorySegment.ofArray(out), 0, 8);
            }
            return out[0];
        }
    }
}
