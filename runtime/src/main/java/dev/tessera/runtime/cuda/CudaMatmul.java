package dev.tessera.runtime.cuda;

import dev.tessera.runtime.DType;

/**
 * Row-major batched products on cuBLAS. A row-major C[M,N] = A[M,K]·B[K,N] is the column-major Cᵀ = Bᵀ·Aᵀ, so we
 * hand cuBLAS B as its first operand and A as its second: a row-major matrix read column-major is its own
 * transpose, and a view whose rows are contiguous (a transposed weight, say) becomes a transpose flag. Nothing is
 * copied unless a view has unit stride in neither of its two inner dims.
 */
public final class CudaMatmul {
    private CudaMatmul() {}

    /** How cuBLAS reads one operand: the op flag, leading dimension and batch stride; null when it cannot. */
    record BlasView(int op, int ld, long batchStride) {}

    /**
     * Operand X[batch, rows, cols] (row-major semantics) as cuBLAS's column-major operand for the transposed product.
     * Row-major with contiguous columns (stride cols == 1) reads as Xᵀ with ld = row stride: op N. Contiguous rows
     * (stride rows == 1) read as X with ld = column stride: op T.
     */
    static BlasView view(int rows, int cols, long batchStride, long rowStride, long colStride) {
        // Size-1 dims may carry any stride; give them the value a dense layout would have.
        if (cols == 1) colStride = 1;
        if (rows == 1) rowStride = Math.max(cols, 1);
        if (colStride == 1 && rowStride >= Math.max(1, cols) && rowStride <= Integer.MAX_VALUE) return new BlasView(Cublas.OP_N, (int) rowStride, batchStride);
        if (rowStride == 1 && colStride >= Math.max(1, rows) && colStride <= Integer.MAX_VALUE) return new BlasView(Cublas.OP_T, (int) colStride, batchStride);
        return null;
    }

    /** True when cuBLAS can read this [batch, rows, cols] operand without a copy. */
    public static boolean canRead(DeviceOperand x) {
        return view(x.shape()[1], x.shape()[2], x.strides()[0], x.strides()[1], x.strides()[2]) != null;
    }

    /**
     * out[b] = a[b]·b[b] for a [batch, m, k], b [batch, k, n] (any strides {@link #canRead} accepts; batch stride 0
     * broadcasts) and contiguous out [batch, m, n]. F32 (TF32 tensor cores only when {@code allowTf32}), F64, and
     * BF16/F16 with F32 accumulation.
     */
    public static void matmul(CudaDevice d, DeviceOperand a, DeviceOperand b, DeviceOperand out, boolean allowTf32) {
        int batch = out.shape()[0], m = out.shape()[1], n = out.shape()[2], k = a.shape()[2];
        if (batch == 0 || m == 0 || n == 0) return;
        if (k == 0) {
            d.zero(out.address(), out.numel() * out.dtype().byteSize());
            return;
        }
        BlasView vb = view(k, n, b.strides()[0], b.strides()[1], b.strides()[2]);
        BlasView va = view(m, k, a.strides()[0], a.strides()[1], a.strides()[2]);
        if (va == null || vb == null) throw new IllegalArgumentException("matmul: operand layout not readable by cuBLAS; make it contiguous first");
        int type = switch (a.dtype()) {
            case F32 -> Cublas.R_32F;
            case F64 -> Cublas.R_64F;
            case BF16 -> Cublas.R_16BF;
            case F16 -> Cublas.R_16F;
            default -> throw new IllegalArgumentException("matmul: unsupported dtype " + a.dtype() + " on " + d + " (F32, F64, BF16 or F16)");
        };
        int outType = out.dtype() == DType.F32 ? Cublas.R_32F : type;
        int compute = a.dtype() == DType.F64 ? Cublas.COMPUTE_64F
                : a.dtype() == DType.F32 && allowTf32 ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
        // Column-major: Cᵀ[n, m] = op(B')[n, k] · op(A')[k, m].
        Cublas.gemmStridedBatched(d, vb.op(), va.op(), n, m, k, 1.0,
                b.address(), type, vb.ld(), vb.batchStride(),
                a.address(), type, va.ld(), va.batchStride(),
                0.0, out.address(), outType, n, (long) m * n, batch, compute);
    }

    /** The most rows {@link #bf16WeightRows} takes (LB_ROWS in linear_bf16.cu). */
    public static final int BF16_WEIGHT_ROWS = 8;

    /**
     * y [rows, n] = x [rows, k] · Wᵀ in F32 for a weight W [n, k] kept in BF16 (native/cuda/runtime/linear_bf16.cu):
     * W read where it lies, at half an F32 weight's bytes, instead of widened into a copy for cuBLAS. x's values
     * contiguous, its rows {@code xRow} apart; W and y contiguous; at most {@link #BF16_WEIGHT_ROWS} rows.
     */
    public static void bf16WeightRows(CudaDevice d, DeviceOperand x, long xRow, DeviceOperand w, DeviceOperand y, int rows, int n, int k) {
        if (x.dtype() != DType.F32 || w.dtype() != DType.BF16 || y.dtype() != DType.F32) {
            throw new IllegalArgumentException("matmul: F32 rows times a BF16 weight into F32, got " + x.dtype() + ", " + w.dtype() + ", " + y.dtype());
        }
        if (rows < 1 || rows > BF16_WEIGHT_ROWS) throw new IllegalArgumentException("matmul: 1 to " + BF16_WEIGHT_ROWS + " rows against a BF16 weight, got " + rows);
        if (n == 0) return;
        int warpsPerBlock = 8;
        long blocks = Math.min((n + warpsPerBlock - 1) / warpsPerBlock, 65_535L); // the warp loop strides over the rest
        d.kernel("linear_bf16", "linear_bf16_weight_rows").grid((int) blocks).block(32 * warpsPerBlock)
                .ptr(x.address()).i64(xRow).ptr(w.address()).ptr(y.address()).i32(rows).i32(n).i32(k)
                .launch();
    }

}
