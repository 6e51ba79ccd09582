package dev.tessera.kernels.optim;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** Launches native/cuda/kernels/squared_norm.cu: per-block partial sums of every tensor, one finishing block, one read-back. */
final class SquaredNormCuda {
    private static final int THREADS = 256, FINISH_THREADS = 1024;

    private SquaredNormCuda() {}

    static double sum(List<Tensor> tensors) {
        CudaDevice d = CudaDevice.get(tensors.get(0).device().index());
        int[] blocks = new int[tensors.size()];
        long total = 0;
        for (int i = 0; i < blocks.length; i++) {
            long n = tensors.get(i).numel();
            blocks[i] = (int) Math.min((n + THREADS - 1) / THREADS, 4L * d.multiprocessorCount());
            total += blocks[i];
        }
        if (total == 0) return 0;
        double[] out = new double[1];
        try (Scope s = Scope.open(); DeviceBuffer partials = d.temporary(8 * total); DeviceBuffer result = d.temporary(8)) {
            long slot = 0;
            for (int i = 0; i < blocks.length; i++) {
                if (blocks[i] == 0) continue;
                Tensor t = tensors.get(i).contiguous();
                d.kernel(FusedPtx.SOURCE, "squared_norm", "sq_partials_" + CudaLayout.suffix(t.dtype())).grid(blocks[i]).block(THREADS)
                        .ptr(t.deviceAddress()).i64(t.numel()).ptr(partials.address() + 8 * slot).launch();
                slot += blocks[i];
            }
            d.kernel(FusedPtx.SOURCE, "squared_norm", "sq_finish").grid(1).block(FINISH_THREADS)
                    .ptr(partials.address()).i64(total).ptr(result.address()).launch();
            d.copyToHost(result.address(), MemorySegment.ofArray(out), 0, 8);
        }
        return out[0];
    }
}
