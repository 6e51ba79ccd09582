package dev.tessera.kernels.norm;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;

/**
 * Launches native/cuda/kernels/gated_rms_norm.cu (F32, F64, BF16, F16): one warp per row, eight rows per block; the
 * weight's gradient in chunks of {@link #CHUNK} rows, then the chunks in order.
 */
final class GatedRmsNormCuda {
    private static final int THREADS = 256, ROWS_PER_BLOCK = THREADS / 32, CHUNK = 256;

    private GatedRmsNormCuda() {}

    private static int rowBlocks(CudaDevice d, long rows) {
        return (int) Math.max(1, Math.min((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, 32L * d.multiprocessorCount()));
    }

    private static int blocks(CudaDevice d, long n) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * d.multiprocessorCount()));
    }

    static void forward(GatedRmsNorm.Rows p, Tensor y, Tensor rstd, double eps) {
        if (p.rows() == 0) return;
        CudaDevice d = CudaDevice.get(p.x().device().index());
        d.kernel(FusedPtx.SOURCE, "gated_rms_norm", "gated_rms_norm_forward_" + CudaLayout.suffix(p.x().dtype()))
                .grid(rowBlocks(d, p.rows())).block(THREADS)
                .ptr(p.x().deviceAddress()).ptr(p.z().deviceAddress()).i64(p.zStride()).ptr(p.w().deviceAddress())
                .ptr(y.deviceAddress()).ptr(rstd.deviceAddress()).i64(p.rows()).i32(p.d()).f64(eps).launch();
    }

    static void backward(GatedRmsNorm.Rows p, Tensor dy, Tensor rstd, Tensor dx, Tensor dz, long dzStride, Tensor dw) {
        if (p.rows() == 0) {
            dw.fill(0);
            return;
        }
        CudaDevice d = CudaDevice.get(p.x().device().index());
        String suffix = CudaLayout.suffix(p.x().dtype());
        d.kernel(FusedPtx.SOURCE, "gated_rms_norm", "gated_rms_norm_backward_" + suffix).grid(rowBlocks(d, p.rows())).block(THREADS)
                .ptr(p.x().deviceAddress()).ptr(p.z().deviceAddress()).i64(p.zStride()).ptr(p.w().deviceAddress())
                .ptr(dy.deviceAddress()).ptr(rstd.deviceAddress()).ptr(dx.deviceAddress()).ptr(dz.deviceAddress()).i64(dzStride)
                .i64(p.rows()).i32(p.d()).launch();
        long chunks = (p.rows() + CHUNK - 1) / CHUNK;
        long accBytes = p.x().dtype() == DType.F64 ? 8 : 4;
        try (DeviceBuffer partial = d.temporary(accBytes * chunks * p.d())) {
            d.kernel(FusedPtx.SOURCE, "gated_rms_norm", "gated_rms_norm_weight_partial_" + suffix).grid(blocks(d, chunks * p.d())).block(THREADS)
                    .ptr(p.x().deviceAddress()).ptr(p.z().deviceAddress()).i64(p.zStride()).ptr(dy.deviceAddress())
                    .ptr(rstd.deviceAddress()).ptr(partial.address()).i64(p.rows()).i32(p.d()).i32(CHUNK).launch();
            d.kernel(FusedPtx.SOURCE, "gated_rms_norm", "gated_rms_norm_weight_sum_" + suffix).grid(blocks(d, p.d())).block(THREADS)
                    .ptr(partial.address()).ptr(dw.deviceAddress()).i64(chunks).i32(p.d()).launch();
        }
    }
}
