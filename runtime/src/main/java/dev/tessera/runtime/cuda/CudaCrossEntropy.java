package dev.tessera.runtime.cuda;

/** Launches native/cuda/runtime/cross_entropy.cu: the fused per-row cross entropy and its gradient. */
public final class CudaCrossEntropy {
    private static final int THREADS = 256, ROWS_PER_BLOCK = THREADS / 32;

    private CudaCrossEntropy() {}

    /**
     * loss[r] = logsumexp(x[r]) − x[r, t_r] (0 where t_r = ignore) and lse[r] for contiguous logits x [rows, c] and
     * int64 targets at {@code targets} (validated by the caller); loss and lse are F32 (F64 for F64 logits) [rows].
     */
    public static void forward(CudaDevice d, DeviceOperand x, long targets, int rows, int c, long ignore, DeviceOperand loss, DeviceOperand lse) {
        if (rows == 0) return;
        int blocks = (int) Math.max(1, Math.min(((long) rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, 64L * Math.max(1, d.multiprocessorCount())));
        d.kernel("cross_entropy", "cross_entropy_forward_" + x.suffix()).grid(blocks).block(THREADS)
                .ptr(x.address()).ptr(targets).i64(rows).i32(c).i64(ignore).ptr(loss.address()).ptr(lse.address()).launch();
    }

    /** dx[r, j] = g[r]·(exp(x[r, j] − lse[r]) − [j = t_r]), 0 on ignored rows; g and lse in the loss's dtype. */
    public static void backward(CudaDevice d, DeviceOperand x, long targets, DeviceOperand lse, DeviceOperand g, int rows, int c, long ignore,
                                DeviceOperand dx) {
        long n = (long) rows * c;
        if (n == 0) return;
        int blocks = (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 32L * Math.max(1, d.multiprocessorCount())));
        d.kernel("cross_entropy", "cross_entropy_backward_" + x.suffix()).grid(blocks).block(THREADS)
                .ptr(x.address()).ptr(targets).ptr(lse.address()).ptr(g.address()).i64(rows).i32(c).i64(ignore).ptr(dx.address()).launch();
    }
}
