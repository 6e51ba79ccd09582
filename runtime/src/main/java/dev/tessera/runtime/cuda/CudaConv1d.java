package dev.tessera.runtime.cuda;

/**
 * The causal depthwise 1-D convolution on the GPU (native/cuda/runtime/conv1d.cu), the twin of
 * {@code dev.tessera.runtime.cpu.Conv1dKernel}: x [B, L, C] channels last, weight [C, K], optional bias [C]. x and dx
 * need only their channels contiguous (any non-negative batch and position strides: a slice of a projection is read
 * and its gradient written in place); everything else is contiguous. {@code starts} is what {@code Conv1dKernel.sequenceStarts} returns for packed sequences (then B = 1),
 * or null; it is uploaded for the call.
 *
 * <p>Kernels are picked by x's dtype (y and dx share it); weight, bias, dy, dw and db are read and written through
 * their own dtypes. dx, dw and db are overwritten, like on the CPU. dw and db are reduced in two deterministic passes
 * (per-block partials, then an ordered sum), whose split depends only on the shape, so they repeat exactly run to run.
 */
public final class CudaConv1d {
    private CudaConv1d() {}

    private static final String MODULE = "conv1d";
    /** CV_TAPS, CV_BX and CV_BY in conv1d.cu. */
    private static final int TAPS = 8, BX = 32, BY = 8;

    public static void forward(CudaDevice d, DeviceOperand x, DeviceOperand w, DeviceOperand bias, DeviceOperand y,
                               int batch, int len, int channels, int k, int[] starts) {
        requireChannelsContiguous("causal_conv1d", "x", x);
        CudaIndexing.requireContiguous("causal_conv1d", w, bias, y);
        requireFloating("causal_conv1d", x);
        if (y.dtype() != x.dtype()) throw new IllegalArgumentException("causal_conv1d: y dtype " + y.dtype() + " differs from x dtype " + x.dtype());
        checkStarts("causal_conv1d", starts, batch, len);
        long total = (long) batch * len * channels;
        if (total == 0) return;
        try (DeviceBuffer st = starts == null ? null : d.upload(starts)) {
            d.kernel(MODULE, "conv1d_forward_" + x.suffix()).grid(CudaIndexing.grid(d, total)).block(256)
                    .ptr(x.address()).i64(x.strides()[0]).i64(x.strides()[1]).ptr(w.address()).i32(w.dtypeCode())
                    .ptr(bias == null ? 0 : bias.address()).i32(bias == null ? 0 : bias.dtypeCode())
                    .ptr(y.address()).i64(batch).i32(len).i32(channels).i32(k).ptr(st == null ? 0 : st.address())
                    .launch();
        }
    }

    /** Gradients: dx always, dw and db when not null. */
    public static void backward(CudaDevice d, DeviceOperand x, DeviceOperand w, DeviceOperand dy, DeviceOperand dx, DeviceOperand dw,
                                DeviceOperand db, int batch, int len, int channels, int k, int[] starts) {
        requireChannelsContiguous("causal_conv1d_backward", "x", x);
        requireChannelsContiguous("causal_conv1d_backward", "dx", dx);
        CudaIndexing.requireContiguous("causal_conv1d_backward", w, dy, dw, db);
        requireFloating("causal_conv1d_backward", x);
        if (dx.dtype() != x.dtype()) {
            throw new IllegalArgumentException("causal_conv1d_backward: dx dtype " + dx.dtype() + " differs from x dtype " + x.dtype());
        }
        checkStarts("causal_conv1d_backward", starts, batch, len);
        long total = (long) batch * len * channels;
        try (DeviceBuffer st = starts == null || total == 0 ? null : d.upload(starts)) {
            long stAddr = st == null ? 0 : st.address();
            if (total > 0) {
                d.kernel(MODULE, "conv1d_backward_dx_" + x.suffix()).grid(CudaIndexing.grid(d, total)).block(256)
                        .ptr(w.address()).i32(w.dtypeCode()).ptr(dy.address()).i32(dy.dtypeCode())
                        .ptr(dx.address()).i64(dx.strides()[0]).i64(dx.strides()[1]).i64(batch).i32(len).i32(channels).i32(k).ptr(stAddr)
                        .launch();
            }
            if ((dw == null && db == null) || channels == 0) return;
            int gx = (channels + BX - 1) / BX;
            long positions = (long) batch * len;
            // Partials per block row; the split depends only on the shape, so the sums repeat exactly.
            int gy = (int) Math.max(1, Math.min(Math.min((positions + 127) / 128, Math.max(1, 2048 / gx)), 65535));
            int accBytes = x.dtype() == dev.tessera.runtime.DType.F64 ? 8 : 4;
            int maxTap = dw == null ? 0 : k; // with dw null one pass computes only db
            try (DeviceBuffer partial = d.temporary((long) gy * (Math.min(TAPS, Math.max(maxTap, 0)) + 1) * channels * accBytes)) {
                int j0 = 0;
                do {
                    int kk = Math.min(TAPS, maxTap - j0);
                    d.kernel(MODULE, "conv1d_backward_dw_" + x.suffix()).grid(gx, gy, 1).block(BX, BY, 1)
                            .ptr(x.address()).i64(x.strides()[0]).i64(x.strides()[1]).ptr(dy.address()).i32(dy.dtypeCode())
                            .ptr(partial.address())
                            .i64(batch).i32(len).i32(channels).i32(k).i32(j0).i32(kk).ptr(stAddr)
                            .launch();
                    d.kernel(MODULE, "conv1d_backward_dw_finish_" + x.suffix()).grid(CudaIndexing.grid(d, (long) (kk + 1) * channels)).block(256)
                            .ptr(partial.address()).i32(gy)
                            .ptr(dw == null ? 0 : dw.address()).i32(dw == null ? 0 : dw.dtypeCode())
                            .ptr(db == null ? 0 : db.address()).i32(db == null ? 0 : db.dtypeCode())
                            .i32(channels).i32(k).i32(j0).i32(kk)
                            .launch();
                    j0 += TAPS;
                } while (j0 < maxTap);
            }
        }
    }

    /** A [B, L, C] operand with its channels contiguous and non-negative batch and position strides. */
    static boolean channelsContiguous(DeviceOperand t) {
        long[] st = t.strides();
        return t.shape().length == 3 && (st[2] == 1 || t.shape()[2] == 1) && st[1] >= 0 && st[0] >= 0;
    }

    private static void requireChannelsContiguous(String op, String what, DeviceOperand t) {
        if (!channelsContiguous(t)) {
            throw new IllegalArgumentException(op + ": " + what + " must be [B, L, C] with contiguous channels, got shape "
                    + java.util.Arrays.toString(t.shape()) + " strides " + java.util.Arrays.toString(t.strides()));
        }
    }

    private static void requireFloating(String op, DeviceOperand x) {
        if (!x.dtype().isFloating()) throw new IllegalArgumentException(op + ": x must be floating, got " + x.dtype());
    }

    private static void checkStarts(String op, int[] starts, int batch, int len) {
        if (starts == null) return;
        if (batch != 1) throw new IllegalArgumentException(op + ": packed sequences need batch 1, got " + batch);
        if (starts.length != len) throw new IllegalArgumentException(op + ": " + starts.length + " sequence starts for length " + len);
    }
}
