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
 * Launches native/cuda/kernels/squared_norm.cu: the per-block partial sums of every tensor of one dtype in one launch
 * (a table of the tensors, uploaded per call), one finishing block over all the partials in order, one read-back.
 */
final class SquaredNormCuda {
    private static final int THREADS = 256, FINISH_THREADS = 1024;

    private SquaredNormCuda() {}

    static double sum(List<Tensor> tensors) {
        CudaDevice d = CudaDevice.get(tensors.get(0).device().index());
        try (Scope s = Scope.open()) {
            // per dtype, in first-seen order: table rows (address, length, first block, blocks) and the block count
            Map<DType, List<long[]>> rows = new LinkedHashMap<>();
            Map<DType, Long> blocksOf = new LinkedHashMap<>();
            long total = 0;
            for (Tensor t0 : tensors) {
                long n = t0.numel();
                long blocks = Math.min((n + THREADS - 1) / THREADS, 4L * d.multiprocessorCount());
                if (blocks == 0) continue;
                Tensor t = t0.contiguous();
                long first = blocksOf.getOrDefault(t.dtype(), 0L);
                rows.computeIfAbsent(t.dtype(), k -> new ArrayList<>()).add(new long[] {t.deviceAddress(), n, first, blocks});
                blocksOf.put(t.dtype(), first + blocks);
                total += blocks;
            }
            if (total == 0) return 0;
            double[] out = new double[1];
            try (DeviceBuffer partials = d.temporary(8 * total); DeviceBuffer result = d.temporary(8)) {
                long base = 0;
                for (var e : rows.entrySet()) {
                    long blocks = blocksOf.get(e.getKey());
                    try (DeviceBuffer table = d.upload(flatten(e.getValue()))) {
                        d.kernel(FusedPtx.SOURCE, "squared_norm", "sq_partials_" + CudaLayout.suffix(e.getKey())).grid((int) blocks).block(THREADS)
                                .ptr(table.address()).i32(e.getValue().size()).ptr(partials.address() + 8 * base).launch();
                    }
                    base += blocks;
                }
                d.kernel(FusedPtx.SOURCE, "squared_norm", "sq_finish").grid(1).block(FINISH_THREADS)
                        .ptr(partials.address()).i64(total).ptr(result.address()).launch();
                d.copyToHost(result.address(), MemorySegment.ofArray(out), 0, 8);
            }
            return out[0];
        }
    }

    /** Table rows laid end to end. */
    static long[] flatten(List<long[]> rows) {
        int width = rows.get(0).length;
        long[] out = new long[rows.size() * width];
        for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i), 0, out, i * width, width);
        return out;
    }
}
