package dev.tessera.runtime.cuda;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.cpu.RowReduce;

/**
 * Row-wise kernels of the CUDA backend (native/cuda/runtime/rows.cu) over contiguous [rows, n] operands: reductions,
 * softmax and log-softmax forward and backward, LayerNorm and RMSNorm forward and backward. The semantics are those of
 * the CPU kernels ({@link RowReduce}, {@code SoftmaxKernel}, {@code NormKernels}): NaN propagates (the first NaN wins
 * arg-reductions), ties go to the lowest index, rows of −inf give softmax 0 / log-softmax −inf / logsumexp −inf, and
 * norm backward overwrites dx, dw and db.
 *
 * <p>Launch shapes: rows of at most {@value #WARP_ROW_MAX} elements get one warp each ({@value #WARP_BLOCK} threads, so
 * 8 rows per block); longer rows get one block each. Softmax of 16-byte aligned rows of at most 4 KiB (not F64) keeps
 * each row in registers and reads it once; other rows take an online (running max and sum) pass for the statistics and
 * a second, mostly cached, pass to write. Reductions of a few long rows (e.g. a full-tensor sum) are also
 * split across blocks, whose partial results a second kernel combines in a fixed order; the dw / db sums of norm
 * backward go the same way. Nothing uses atomics, so results are reproducible run to run.
 */
public final class CudaRows {
    private CudaRows() {}

    private static final String MODULE = "rows";
    /** Longest row handled by one warp. */
    static final int WARP_ROW_MAX = 1024;
    /** Block size of the warp-per-row kernels. */
    static final int WARP_BLOCK = 256;
    /** Largest block of the block-per-row kernels (their __launch_bounds__). */
    static final int MAX_BLOCK = 512;
    /** Longest row (bytes) of softmax_cached_*: 32 lanes × 8 vectors of 16 bytes. */
    static final int CACHED_ROW_BYTES = 32 * 8 * 16;
    /** sizeof(TsRowPart): two doubles and a long long. */
    private static final int PART_BYTES = 24;

    // ------------------------------------------------------------------ reductions

    /** out[c] = Σ_r x[r·cols + c] over n rows, in a fixed order; x and out dense, of one float dtype. */
    public static void sumLeading(CudaDevice d, DeviceOperand x, int n, int cols, DeviceOperand out) {
        requireContiguous("sum over leading dims", x, (long) n * cols);
        requireContiguous("sum over leading dims", out, cols);
        if (!x.dtype().isFloating() || out.dtype() != x.dtype()) {
            throw new IllegalArgumentException("sum over leading dims: x and out must share one float dtype, got " + x.dtype() + " and " + out.dtype());
        }
        if (cols == 0) return;
        d.kernel(MODULE, "sum_leading_" + x.suffix()).grid((cols + 31) / 32).block(32, 8, 1).ptr(x.address()).ptr(out.address()).i64(n).i64(cols).launch();
    }

    /**
     * Reduces each row of x [rows, n] into out[r · out.strides[0]]. SUM of an empty row is 0; the other kinds need
     * n ≥ 1. Any input dtype; the output dtype is the caller's choice (I64 for ARGMAX / ARGMIN).
     */
    public static void reduceRows(CudaDevice d, RowReduce.Kind kind, DeviceOperand x, int rows, int n, DeviceOperand out) {
        requireContiguous("reduce " + kind, x, (long) rows * n);
        if (rows < 0 || n < 0) throw new IllegalArgumentException("reduce " + kind + ": negative size " + rows + "x" + n);
        if (rows == 0) return;
        if (n == 0 && kind != RowReduce.Kind.SUM) {
            throw new IllegalArgumentException("reduce " + kind + ": cannot reduce an empty row");
        }
        long outStride = out.strides().length == 0 ? 0 : out.strides()[0];
        String fn = "reduce_" + kindName(kind) + "_" + x.suffix();
        if (n <= WARP_ROW_MAX) {
            d.kernel(MODULE, fn).grid(warpGrid(rows)).block(WARP_BLOCK)
                    .ptr(x.address()).i32(rows).i32(n).i32(1).i32(1).ptr(out.address()).i64(outStride).i32(out.dtypeCode()).ptr(0)
                    .launch();
            return;
        }
        int threads = blockThreads(n, x.dtype());
        // Split rows into chunks when there are too few rows to fill the device: aim at ~4 blocks per SM, each chunk
        // at least 8 elements per thread.
        long want = Math.ceilDiv(4L * d.multiprocessorCount(), rows);
        long most = Math.max(1, n / (8L * threads));
        int splits = (int) Math.max(1, Math.min(Math.min(want, most), 4096));
        if ((long) rows * splits > Integer.MAX_VALUE) splits = 1;
        if (splits == 1) {
            d.kernel(MODULE, fn).grid(rows).block(threads)
                    .ptr(x.address()).i32(rows).i32(n).i32(1).i32(0).ptr(out.address()).i64(outStride).i32(out.dtypeCode()).ptr(0)
                    .launch();
            return;
        }
        try (DeviceBuffer parts = d.temporary((long) rows * splits * PART_BYTES)) {
            d.kernel(MODULE, fn).grid(rows * splits).block(threads)
                    .ptr(x.address()).i32(rows).i32(n).i32(splits).i32(0).ptr(out.address()).i64(outStride).i32(out.dtypeCode())
                    .ptr(parts.address()).launch();
            boolean integerSum = kind == RowReduce.Kind.SUM && x.dtype().isIntegral();
            String finish = "reduce_finish_" + kindName(kind) + (integerSum ? "_i64" : "_f64");
            d.kernel(MODULE, finish).grid(warpGrid(rows)).block(WARP_BLOCK)
                    .ptr(parts.address()).i32(rows).i32(splits).ptr(out.address()).i64(outStride).i32(out.dtypeCode()).launch();
        }
    }

    private static String kindName(RowReduce.Kind kind) {
        return switch (kind) {
            case SUM -> "sum";
            case MAX -> "max";
            case MIN -> "min";
            case ARGMAX -> "argmax";
            case ARGMIN -> "argmin";
            case LOGSUMEXP -> "logsumexp";
        };
    }

    // ------------------------------------------------------------------ softmax

    /** out = softmax(x) (or log-softmax) over each row of x [rows, n]; x and out of one floating dtype. */
    public static void softmax(CudaDevice d, DeviceOperand x, DeviceOperand out, int rows, int n, boolean log) {
        String op = log ? "log_softmax" : "softmax";
        requireFloating(op, x);
        requireSameDtype(op, x, out);
        requireContiguous(op, x, (long) rows * n);
        requireContiguous(op, out, (long) rows * n);
        if (rows <= 0 || n <= 0) return;
        long rowBytes = (long) n * x.dtype().byteSize();
        if (x.dtype() != DType.F64 && rowBytes % 16 == 0 && rowBytes <= CACHED_ROW_BYTES && x.address() % 16 == 0 && out.address() % 16 == 0) {
            // Aligned short rows: one warp per row holds the row in registers and reads it once.
            d.kernel(MODULE, "softmax_cached_" + x.suffix()).grid(warpGrid(rows)).block(WARP_BLOCK)
                    .ptr(x.address()).ptr(out.address()).i32(rows).i32(n).i32(log ? 1 : 0).launch();
            return;
        }
        boolean warp = n <= WARP_ROW_MAX;
        d.kernel(MODULE, "softmax_" + x.suffix()).grid(warp ? warpGrid(rows) : rows).block(warp ? WARP_BLOCK : blockThreads(n, x.dtype()))
                .ptr(x.address()).ptr(out.address()).i32(rows).i32(n).i32(warp ? 1 : 0).i32(log ? 1 : 0).launch();
    }

    /** dx from the forward output y and its gradient dy (all [rows, n], one floating dtype). */
    public static void softmaxBackward(CudaDevice d, DeviceOperand y, DeviceOperand dy, DeviceOperand dx, int rows, int n, boolean log) {
        String op = log ? "log_softmax backward" : "softmax backward";
        requireFloating(op, y);
        requireSameDtype(op, y, dy);
        requireSameDtype(op, y, dx);
        for (DeviceOperand o : new DeviceOperand[] {y, dy, dx}) requireContiguous(op, o, (long) rows * n);
        if (rows <= 0 || n <= 0) return;
        boolean warp = n <= WARP_ROW_MAX;
        d.kernel(MODULE, "softmax_backward_" + y.suffix()).grid(warp ? warpGrid(rows) : rows)
                .block(warp ? WARP_BLOCK : blockThreads(n, y.dtype()))
                .ptr(y.address()).ptr(dy.address()).ptr(dx.address()).i32(rows).i32(n).i32(warp ? 1 : 0).i32(log ? 1 : 0).launch();
    }

    // ------------------------------------------------------------------ LayerNorm / RMSNorm

    /**
     * y = (x − mean)·rstd·w + b (LayerNorm) or x·rstd·w (RMSNorm, {@code rms}) over rows of x [rows, dim], with
     * rstd = 1/sqrt(var + eps). Writes mean (LayerNorm; {@code meanAddress} is 0 for RMSNorm) and rstd per row as
     * double[rows] in device memory. {@code w} and {@code b} [dim] may be null and may have another floating dtype.
     */
    public static void normForward(CudaDevice d, DeviceOperand x, DeviceOperand w, DeviceOperand b, DeviceOperand y, long meanAddress,
                                   long rstdAddress, int rows, int dim, double eps, boolean rms) {
        String op = rms ? "rms_norm" : "layer_norm";
        requireFloating(op, x);
        requireSameDtype(op, x, y);
        requireContiguous(op, x, (long) rows * dim);
        requireContiguous(op, y, (long) rows * dim);
        requireParam(op, w, dim);
        requireParam(op, b, dim);
        if (rows <= 0) return;
        if (!rms && meanAddress == 0) throw new IllegalArgumentException(op + ": needs a device array for the means");
        if (rstdAddress == 0) throw new IllegalArgumentException(op + ": needs a device array for the rstds");
        boolean warp = dim <= WARP_ROW_MAX;
        d.kernel(MODULE, "norm_forward_" + x.suffix()).grid(warp ? warpGrid(rows) : rows).block(warp ? WARP_BLOCK : blockThreads(dim, x.dtype()))
                .ptr(x.address()).ptr(addr(w)).i32(code(w)).ptr(addr(b)).i32(code(b)).ptr(y.address())
                .ptr(rms ? 0 : meanAddress).ptr(rstdAddress).i32(rows).i32(dim).f64(eps).i32(rms ? 1 : 0).i32(warp ? 1 : 0).launch();
    }

    /**
     * Gradients of {@link #normForward}: dx (overwritten), and when not null dw = Σ_rows dy·x̂ and db = Σ_rows dy
     * (overwritten, in their own dtypes). {@code w} may be null (no weight: dx uses w = 1).
     */
    public static void normBackward(CudaDevice d, DeviceOperand x, DeviceOperand w, DeviceOperand dy, long meanAddress, long rstdAddress,
                                    int rows, int dim, boolean rms, DeviceOperand dx, DeviceOperand dw, DeviceOperand db) {
        String op = rms ? "rms_norm backward" : "layer_norm backward";
        requireFloating(op, x);
        requireSameDtype(op, x, dy);
        requireSameDtype(op, x, dx);
        for (DeviceOperand o : new DeviceOperand[] {x, dy, dx}) requireContiguous(op, o, (long) rows * dim);
        requireParam(op, w, dim);
        requireParam(op, dw, dim);
        requireParam(op, db, dim);
        if (rows <= 0 || dim <= 0) {
            // No rows: the sums over rows are zero (the CPU writes its zero accumulators).
            if (dw != null) d.zero(dw.address(), (long) dim * dw.dtype().byteSize());
            if (db != null) d.zero(db.address(), (long) dim * db.dtype().byteSize());
            return;
        }
        if (!rms && meanAddress == 0) throw new IllegalArgumentException(op + ": needs the device array of means");
        if (rstdAddress == 0) throw new IllegalArgumentException(op + ": needs the device array of rstds");
        long mean = rms ? 0 : meanAddress;
        boolean warp = dim <= WARP_ROW_MAX;
        d.kernel(MODULE, "norm_backward_" + x.suffix()).grid(warp ? warpGrid(rows) : rows).block(warp ? WARP_BLOCK : blockThreads(dim, x.dtype()))
                .ptr(x.address()).ptr(addr(w)).i32(code(w)).ptr(dy.address()).ptr(dx.address()).ptr(mean).ptr(rstdAddress)
                .i32(rows).i32(dim).i32(rms ? 1 : 0).i32(warp ? 1 : 0).launch();
        if (dw == null && db == null) return;
        // dw / db: blocks of 32 columns × a range of rows write double partials [rowBlocks, dim]; a second kernel sums
        // them over the row blocks in order.
        int colTiles = (int) Math.ceilDiv((long) dim, 32);
        long target = Math.ceilDiv(8L * d.multiprocessorCount(), colTiles);
        int rowBlocks = (int) Math.max(1, Math.min(target, Math.ceilDiv((long) rows, 8)));
        int rowsPerBlock = (int) Math.ceilDiv((long) rows, rowBlocks);
        rowBlocks = (int) Math.ceilDiv((long) rows, rowsPerBlock);
        long partBytes = (long) rowBlocks * dim * 8;
        try (DeviceBuffer pw = dw == null ? null : d.temporary(partBytes); DeviceBuffer pb = db == null ? null : d.temporary(partBytes)) {
            d.kernel(MODULE, "norm_params_" + x.suffix()).grid(colTiles, rowBlocks, 1).block(32, 8, 1)
                    .ptr(x.address()).ptr(dy.address()).ptr(mean).ptr(rstdAddress).i32(rows).i32(dim).i32(rowsPerBlock)
                    .ptr(pw == null ? 0 : pw.address()).ptr(pb == null ? 0 : pb.address()).launch();
            int threads = 256;
            int blocks = (int) Math.min(Math.ceilDiv((long) dim, threads), 4L * d.multiprocessorCount());
            d.kernel(MODULE, "norm_params_finish_f64").grid(blocks).block(threads)
                    .ptr(pw == null ? 0 : pw.address()).ptr(pb == null ? 0 : pb.address()).i32(rowBlocks).i32(dim)
                    .ptr(addr(dw)).i32(code(dw)).ptr(addr(db)).i32(code(db)).launch();
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Blocks for one warp per row. */
    private static int warpGrid(int rows) { return (int) Math.ceilDiv((long) rows, WARP_BLOCK / 32); }

    /** Threads for one block per row: about 8 vector loads' worth of elements per thread, 128 to 512 threads. */
    static int blockThreads(int n, DType dtype) {
        int perThread = 8 * (16 / dtype.byteSize());
        long t = Math.ceilDiv((long) n, perThread);
        t = (t + 31) / 32 * 32;
        return (int) Math.max(128, Math.min(MAX_BLOCK, t));
    }

    private static long addr(DeviceOperand o) { return o == null ? 0 : o.address(); }

    private static int code(DeviceOperand o) { return o == null ? 0 : o.dtypeCode(); }

    private static void requireContiguous(String op, DeviceOperand o, long numel) {
        if (!o.isContiguous()) throw new IllegalArgumentException(op + ": needs a contiguous operand, got strides " + java.util.Arrays.toString(o.strides()));
        if (o.numel() != numel) {
            throw new IllegalArgumentException(op + ": operand of shape " + java.util.Arrays.toString(o.shape()) + " does not hold " + numel + " elements");
        }
    }

    private static void requireParam(String op, DeviceOperand p, int dim) {
        if (p == null) return;
        requireFloating(op, p);
        requireContiguous(op, p, dim);
    }

    private static void requireFloating(String op, DeviceOperand o) {
        if (!o.dtype().isFloating()) throw new IllegalArgumentException(op + ": needs a floating dtype on cuda, got " + o.dtype());
    }

    private static void requireSameDtype(String op, DeviceOperand a, DeviceOperand b) {
        if (a.dtype() != b.dtype()) throw new IllegalArgumentException(op + ": dtypes differ on cuda (" + a.dtype() + " and " + b.dtype() + ")");
    }
}
