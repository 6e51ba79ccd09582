package dev.tessera.runtime.cuda;

import java.lang.foreign.MemorySegment;

import dev.tessera.runtime.DType;

/**
 * Row gathers and scatters over contiguous device operands viewed as [outer, size, inner], and row scans: the CUDA
 * twin of {@code dev.tessera.runtime.cpu.IndexKernels}, launching the kernels of native/cuda/runtime/index.cu.
 *
 * <p>Differences from the CPU: {@link #scatterAdd} accumulates with atomic adds, so duplicate indices are summed in
 * arrival order, not index order: the results match the CPU to rounding (and may differ by rounding between runs).
 * {@code addRows} follows a {@link RowPlan} instead and is deterministic. Everything else writes each output once, in
 * the CPU's arithmetic (scans in double).
 *
 * <p>Indices: host index arrays ({@link #selectRows}, {@link #addRows}) are checked here before the upload. Device
 * index tensors ({@link #gather}, {@link #scatterAdd}) are checked by the kernel, which records the first bad index
 * it meets in a 16-byte device flag; the method then reads the flag back, which synchronises the stream. That costs
 * one round trip per call, accepted because an out-of-range index must never give a silent wrong answer.
 */
public final class CudaIndexing {
    private CudaIndexing() {}

    private static final String MODULE = "index";
    private static final int BLOCK = 256;

    /** out[o, i, :] = x[o, idx[i], :]; x is [outer, size, inner], out [outer, idx.length, inner], same dtype. */
    public static void selectRows(CudaDevice d, DeviceOperand x, int outer, int size, int inner, long[] idx, DeviceOperand out) {
        requireContiguous("select_rows", x, out);
        if (out.dtype() != x.dtype()) throw new IllegalArgumentException("select_rows: out dtype " + out.dtype() + " differs from x dtype " + x.dtype());
        checkHostIndices("select_rows", idx, size);
        long total = (long) outer * idx.length * inner;
        if (total == 0) return;
        try (DeviceBuffer ix = d.upload(idx)) {
            d.kernel(MODULE, "select_rows_" + x.suffix()).grid(grid(d, total)).block(BLOCK)
                    .ptr(x.address()).i64(size).i64(inner).ptr(ix.address()).i64(idx.length).ptr(out.address()).i64(total)
                    .launch();
        }
    }

    /**
     * {@link #selectRows(CudaDevice, DeviceOperand, int, int, int, long[], DeviceOperand)} with the indices already on
     * the device, as the first {@code n} entries of a {@link RowPlan} (checked when it was built): no upload.
     */
    public static void selectRows(CudaDevice d, DeviceOperand x, int outer, int size, int inner, DeviceOperand plan, int n, DeviceOperand out) {
        requireContiguous("select_rows", x, out, plan);
        requirePlan("select_rows", plan, n);
        if (out.dtype() != x.dtype()) throw new IllegalArgumentException("select_rows: out dtype " + out.dtype() + " differs from x dtype " + x.dtype());
        long total = (long) outer * n * inner;
        if (total == 0) return;
        d.kernel(MODULE, "select_rows_" + x.suffix()).grid(grid(d, total)).block(BLOCK)
                .ptr(x.address()).i64(size).i64(inner).ptr(plan.address()).i64(n).ptr(out.address()).i64(total)
                .launch();
    }

    /**
     * acc[o, idx[i], :] += g[o, i, :] for the n indices of {@code plan} (a {@link RowPlan} on the device): one thread per
     * output element sums its row's duplicates in index order, so the result is deterministic (for F32 and F64 into a
     * zero accumulator, exactly the CPU's).
     */
    public static void addRows(CudaDevice d, DeviceOperand g, int outer, int size, int inner, DeviceOperand plan, int n, DeviceOperand acc) {
        requireContiguous("add_rows", g, acc, plan);
        requireAccumulator("add_rows", acc);
        requirePlan("add_rows", plan, n);
        long unique = RowPlan.unique(plan.numel(), n);
        long total = (long) outer * unique * inner;
        if (total == 0) return;
        d.kernel(MODULE, "add_rows_sorted_" + acc.suffix()).grid(grid(d, total)).block(BLOCK)
                .ptr(g.address()).i32(g.dtypeCode()).i64(size).i64(inner).ptr(plan.address()).i64(n).i64(unique).ptr(acc.address()).i64(total)
                .launch();
    }

    /** {@link #addRows(CudaDevice, DeviceOperand, int, int, int, DeviceOperand, int, DeviceOperand)} from host indices (uploads their plan). */
    public static void addRows(CudaDevice d, DeviceOperand g, int outer, int size, int inner, long[] idx, DeviceOperand acc) {
        long[] plan = RowPlan.build("add_rows", idx, size);
        try (DeviceBuffer p = d.upload(plan)) {
            addRows(d, g, outer, size, inner, new DeviceOperand(p.address(), DType.I64, new int[] {plan.length}, new long[] {1}), idx.length, acc);
        }
    }

    private static void requirePlan(String op, DeviceOperand plan, int n) {
        if (plan.dtype() != DType.I64 || plan.numel() < 2L * n + 1 || (plan.numel() - 2L * n - 1) % 2 != 0) {
            throw new IllegalArgumentException(op + ": plan must be a RowPlan (I64, 2n + 2u + 1 entries) of n = " + n + " indices, got "
                    + plan.dtype() + " with " + plan.numel() + " entries");
        }
    }

    /**
     * Along the middle dim of [outer, size, inner]: out[o, i, c] = x[o, idx[o, i, c], c], with idx and out
     * [outer, n, inner]. Throws IndexOutOfBoundsException (after a synchronise) when an index is outside [0, size).
     */
    public static void gather(CudaDevice d, DeviceOperand x, int outer, int size, int inner, DeviceOperand idx, int n, DeviceOperand out) {
        requireContiguous("gather", x, idx, out);
        requireIndexType("gather", idx);
        if (out.dtype() != x.dtype()) throw new IllegalArgumentException("gather: out dtype " + out.dtype() + " differs from x dtype " + x.dtype());
        long total = (long) outer * n * inner;
        if (total == 0) return;
        try (DeviceBuffer flag = d.temporary(16)) {
            d.zero(flag.address(), 16);
            d.kernel(MODULE, "gather_" + x.suffix()).grid(grid(d, total)).block(BLOCK)
                    .ptr(x.address()).i64(size).i64(inner).ptr(idx.address()).i32(idx.dtypeCode()).i64(n).ptr(out.address()).i64(total)
                    .ptr(flag.address())
                    .launch();
            checkFlag(d, flag, "gather", size);
        }
    }

    /**
     * acc[o, idx[o, i, c], c] += src[o, i, c] along the middle dim (atomic adds; src of any dtype). Throws
     * IndexOutOfBoundsException (after a synchronise) when an index is outside [0, size); the in-range elements
     * have then been added.
     */
    public static void scatterAdd(CudaDevice d, DeviceOperand acc, int outer, int size, int inner, DeviceOperand idx, int n, DeviceOperand src) {
        requireContiguous("scatter_add", acc, idx, src);
        requireIndexType("scatter_add", idx);
        requireAccumulator("scatter_add", acc);
        long total = (long) outer * n * inner;
        if (total == 0) return;
        try (DeviceBuffer flag = d.temporary(16)) {
            d.zero(flag.address(), 16);
            d.kernel(MODULE, "scatter_add_" + acc.suffix()).grid(grid(d, total)).block(BLOCK)
                    .ptr(acc.address()).i64(size).i64(inner).ptr(idx.address()).i32(idx.dtypeCode()).i64(n)
                    .ptr(src.address()).i32(src.dtypeCode()).i64(total).ptr(flag.address())
                    .launch();
            checkFlag(d, flag, "scatter_add", size);
        }
    }

    /** Rows up to this long scan one row per thread, in the CPU's order; longer rows get one block each. */
    static final int SEQUENTIAL_SCAN_MAX = 16;

    /**
     * Inclusive cumulative sum or product of each row of a contiguous [rows, n], accumulated in double like the CPU.
     * x may be any dtype; out is F32, F64, BF16, F16 or I64 (integer inputs scan into I64).
     */
    public static void scanRows(CudaDevice d, DeviceOperand x, int rows, int n, DeviceOperand out, boolean product) {
        requireContiguous(product ? "cumprod" : "cumsum", x, out);
        if (!out.dtype().isFloating() && out.dtype() != DType.I64) {
            throw new UnsupportedOperationException((product ? "cumprod" : "cumsum") + ": CUDA scans write F32, F64, BF16, F16 or I64, not " + out.dtype());
        }
        if (rows <= 0 || n <= 0) return;
        if (n <= SEQUENTIAL_SCAN_MAX) {
            d.kernel(MODULE, "scan_rows_seq_" + out.suffix()).grid(grid(d, rows)).block(BLOCK)
                    .ptr(x.address()).i32(x.dtypeCode()).i64(rows).i64(n).ptr(out.address()).i32(product ? 1 : 0)
                    .launch();
        } else {
            int block = Math.min(1024, (n + 31) / 32 * 32);
            d.kernel(MODULE, "scan_rows_" + out.suffix()).grid(Math.min(rows, 1 << 20)).block(block)
                    .ptr(x.address()).i32(x.dtypeCode()).i64(rows).i64(n).ptr(out.address()).i32(product ? 1 : 0)
                    .launch();
        }
    }

    /** Gradient of cumprod per row of [rows, n]: dx_i = Σ_{j≥i} g_j Π_{k≤j, k≠i} x_k, exact with zeros, in double. */
    public static void cumprodBackward(CudaDevice d, DeviceOperand x, DeviceOperand g, int rows, int n, DeviceOperand dx) {
        requireContiguous("cumprod_backward", x, g, dx);
        if (!dx.dtype().isFloating()) throw new UnsupportedOperationException("cumprod_backward: dx must be floating, got " + dx.dtype());
        long total = (long) rows * n;
        if (total <= 0) return;
        d.kernel(MODULE, "cumprod_backward_" + dx.suffix()).grid(grid(d, total)).block(BLOCK)
                .ptr(x.address()).i32(x.dtypeCode()).ptr(g.address()).i32(g.dtypeCode()).i64(rows).i64(n).ptr(dx.address())
                .launch();
    }

    // ------------------------------------------------------------------ checks

    /** Reads the kernel's bad-index flag (synchronises) and throws naming the op and the first index it recorded. */
    private static void checkFlag(CudaDevice d, DeviceBuffer flag, String op, int size) {
        long[] host = new long[2];
        d.copyToHost(flag.address(), MemorySegment.ofArray(host), 0, 16);
        if (host[0] != 0) throw new IndexOutOfBoundsException(op + ": index " + host[1] + " out of range for a dimension of size " + size);
    }

    private static void checkHostIndices(String op, long[] idx, int size) {
        for (long i : idx) {
            if (i < 0 || i >= size) throw new IndexOutOfBoundsException(op + ": index " + i + " out of range for a dimension of size " + size);
        }
    }

    private static void requireIndexType(String op, DeviceOperand idx) {
        DType t = idx.dtype();
        if (t != DType.I64 && t != DType.I32 && t != DType.U8) throw new IllegalArgumentException(op + ": indices must be I32, I64 or U8, got " + t);
    }

    /** The accumulating kernels exist for the float dtypes, I32 and I64 (the GPU has no byte-wide atomic add). */
    private static void requireAccumulator(String op, DeviceOperand acc) {
        DType t = acc.dtype();
        if (t == DType.U8 || t == DType.BOOL) throw new UnsupportedOperationException(op + ": CUDA cannot accumulate into " + t);
    }

    static void requireContiguous(String op, DeviceOperand... ops) {
        for (DeviceOperand o : ops) {
            if (o != null && !o.isContiguous()) throw new IllegalArgumentException(op + ": CUDA kernel needs contiguous operands");
        }
    }

    /** Blocks of 256 for {@code work} items, at most 32 per multiprocessor (the kernels loop grid-stride). */
    static int grid(CudaDevice d, long work) {
        long blocks = (work + BLOCK - 1) / BLOCK;
        return (int) Math.max(1, Math.min(blocks, 32L * Math.max(1, d.multiprocessorCount())));
    }
}
