package dev.tessera.runtime;

import dev.tessera.runtime.cpu.BinaryOp;
import dev.tessera.runtime.cpu.UnaryOp;

/**
 * The primitive kernels an op layer needs from a device. Ops validate shapes, allocate outputs and record
 * autograd; a backend only computes. Operands arrive with their final shapes (broadcast operands as
 * stride-0 views), so backends never broadcast.
 */
interface Backend {
    static Backend of(Tensor t) {
        if (t.device().isCpu()) return CpuBackend.INSTANCE;
        return CudaBackend.of(t.device());
    }

    /** Throws naming both devices when the tensors are not all on one device. */
    static Backend of(String op, Tensor... ts) {
        Device d = null;
        for (Tensor t : ts) {
            if (t == null) continue;
            if (d == null) d = t.device();
            else if (!d.equals(t.device())) {
                throw new IllegalArgumentException(op + ": tensors on different devices: " + d + " and " + t.device());
            }
        }
        return of(ts[0]);
    }

    void fill(Tensor out, double v);

    /** out = (out.dtype) x, elementwise, same shapes. */
    void copy(Tensor x, Tensor out);

    /** out = op(x) where x is viewed at out's shape. */
    void unary(UnaryOp op, double a, double b, Tensor x, Tensor out);

    /**
     * Whether {@link #unaryBackward} has a fused form for {@code op} at {@code dtype}; without it the gradient is
     * composed from elementwise ops.
     */
    default boolean fusesUnaryBackward(UnaryOp op, DType dtype) { return false; }

    /** dx = g · op'(x) with y = op(x) (or null when op's derivative needs only x); all of dx's shape and dtype. */
    default void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor g, Tensor dx) {
        throw new UnsupportedOperationException("unary backward of " + op + ": no fused kernel on " + x.device());
    }

    /** out = op(x, y), x and y viewed (broadcast) at out's shape. */
    void binary(BinaryOp op, Tensor x, Tensor y, Tensor out);

    void where(Tensor cond, Tensor x, Tensor y, Tensor out);

    /** Reduces each row of a contiguous [rows, n] tensor into out[rows]. */
    void reduceRows(ReduceKind kind, Tensor x, int rows, int n, Tensor out);

    /**
     * out[c] = Σ_r x[r, c] for a contiguous [n, cols] x (a sum over leading dims) with out of x's dtype; returns false
     * when this backend has no such kernel and the caller should use {@link #reduceRows} on a transposed copy.
     */
    default boolean sumLeading(Tensor x, int n, int cols, Tensor out) { return false; }

    /** Whether this backend has the fused cross entropy below; without it the op composes log-softmax and gather. */
    default boolean hasFusedCrossEntropy() { return false; }

    /**
     * Fused cross entropy over the rows of a contiguous [rows, c] x with I64 class indices [rows]: loss[r] =
     * logsumexp(x[r]) − x[r, t_r] (0 where t_r = ignoreIndex) and lse[r], both in the accumulation dtype.
     */
    default void crossEntropy(Tensor x, Tensor targets, int rows, int c, long ignoreIndex, Tensor loss, Tensor lse) {
        throw new UnsupportedOperationException("cross_entropy: no fused kernel on " + x.device());
    }

    /** dx[r] = g[r]·(softmax(x[r]) − onehot(t_r)), 0 for ignored rows, from {@link #crossEntropy}'s lse. */
    default void crossEntropyBackward(Tensor x, Tensor targets, Tensor lse, Tensor g, int rows, int c, long ignoreIndex, Tensor dx) {
        throw new UnsupportedOperationException("cross_entropy: no fused kernel on " + x.device());
    }

    /** Batched C[b] = A[b]·B[b]: a [batch,m,k], b [batch,k,n] with any strides (batch stride 0 broadcasts); out contiguous. */
    void matmul(Tensor a, Tensor b, Tensor out);

    /**
     * out [rows, n] (F32, contiguous) = a [rows, k] (F32) · b, for b [k, n] a BF16 weight stored transposed (Wᵀ of a
     * row-major W): the weight read where it lies. False, computing nothing, where this backend cannot for these
     * shapes and layouts; the caller then widens b to F32.
     */
    default boolean matmulBf16Weight(Tensor a, Tensor b, Tensor out) { return false; }

    /** Softmax (or log-softmax) over the last dim of a contiguous [rows, n] x. */
    void softmax(Tensor x, Tensor out, boolean log);

    /** Gradient of softmax / log-softmax over rows: given y and dy, writes dx. */
    void softmaxBackward(Tensor y, Tensor dy, Tensor dx, boolean log);

    /**
     * LayerNorm (or RMSNorm) over rows of contiguous [rows, d] x; fills mean (LayerNorm only; null for RMSNorm) and
     * rstd, contiguous F64 [rows] tensors on the same device.
     */
    void normForward(Tensor x, Tensor w, Tensor b, Tensor y, Tensor mean, Tensor rstd, double eps, boolean rms);

    /** Gradients of {@link #normForward}; dw and db may be null. */
    void normBackward(Tensor x, Tensor w, Tensor dy, Tensor mean, Tensor rstd, boolean rms, Tensor dx, Tensor dw, Tensor db);

    /**
     * Causal depthwise conv over contiguous x [B, L, C] with weight [C, K] and optional bias. {@code cuSeqlens},
     * already validated (B = 1, {0, …, L}), or null: taps never read across a sequence start.
     */
    void conv1dForward(Tensor x, Tensor w, Tensor bias, Tensor y, int[] cuSeqlens);

    /**
     * Gradients of {@link #conv1dForward} with the same {@code cuSeqlens}; dw and db may be null. On the CPU, x and dx
     * may have any batch and position strides (channels contiguous); elsewhere they are contiguous.
     */
    void conv1dBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db, int[] cuSeqlens);

    /**
     * out[o, i, :] = x[o, idx[i], :] over contiguous x viewed [outer, size, inner]. {@code plan}: on a GPU the
     * device's copy of idx grouped by row ({@code cuda.RowPlan}, uploaded once for the select and its backward), null
     * on the CPU.
     */
    void selectRows(Tensor x, int outer, int size, int inner, long[] idx, Tensor plan, Tensor out);

    /** acc[o, idx[i], :] += g[o, i, :], duplicates summed in index order; {@code plan} as for {@link #selectRows}. */
    void addRows(Tensor g, int outer, int size, int inner, long[] idx, Tensor plan, Tensor acc);

    /** Along the middle dim of [outer, size, inner]: out = x[idx], elementwise index; contiguous operands. */
    void gather(Tensor x, int outer, int size, int inner, Tensor idx, int n, Tensor out);

    void scatterAdd(Tensor acc, int outer, int size, int inner, Tensor idx, int n, Tensor src);

    /** Inclusive cumulative sum or product of the rows of a contiguous [rows, n]. */
    void scanRows(Tensor x, int rows, int n, Tensor out, boolean product);

    void cumprodBackward(Tensor x, Tensor g, int rows, int n, Tensor dx);

    /** The kinds of row reduction. */
    enum ReduceKind { SUM, MAX, MIN, ARGMAX, ARGMIN, LOGSUMEXP }
}
