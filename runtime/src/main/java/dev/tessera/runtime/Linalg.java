package dev.tessera.runtime;

/** Matrix products with NumPy semantics and their gradients. */
final class Linalg {
    private Linalg() {}

    static Tensor matmul(Tensor a, Tensor b) {
        a.checkAlive("matmul");
        b.checkAlive("matmul");
        if (a.shape.length == 0 || b.shape.length == 0) {
            throw new IllegalArgumentException("matmul: both operands need at least 1 dim, got " + Shape.str(a.shape) + " and " + Shape.str(b.shape));
        }
        if (!a.dtype.isFloating() || !b.dtype.isFloating()) {
            throw new IllegalArgumentException("matmul: unsupported dtypes " + a.dtype + " and " + b.dtype + " (floating types only)");
        }
        // Check against the shapes as given, so the message names them rather than the promoted 2-D forms.
        checkInner(a.shape, b.shape, a.shape[a.shape.length - 1], b.shape[Math.max(0, b.shape.length - 2)]);
        if (a.shape.length > 2 && b.shape.length > 2) {
            int[] ab = java.util.Arrays.copyOf(a.shape, a.shape.length - 2), bb = java.util.Arrays.copyOf(b.shape, b.shape.length - 2);
            try {
                Shape.broadcast("matmul", ab, bb);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("matmul: batch dimensions of " + Shape.str(a.shape) + " and " + Shape.str(b.shape)
                        + " cannot be broadcast together (" + Shape.str(ab) + " vs " + Shape.str(bb) + ")");
            }
        }
        DType outType = a.dtype;
        if (Autocast.active() && !a.device().isCpu() && autocastable(a.dtype, b.dtype)) {
            // BF16 operands on the tensor cores, F32 accumulation and an F32 result written by cuBLAS itself; the
            // casts are recorded, so the gradients reach the F32 tensors as F32. An operand already in BF16 (the
            // backward's saved operands) is taken as it is: promoting it to F32 first, only to cast it back, would
            // give the same bits for two more kernels.
            a = a.to(DType.BF16);
            b = b.to(DType.BF16);
            outType = DType.F32;
        } else if (a.dtype == DType.F32 && b.dtype == DType.BF16 && a.device().equals(b.device()) && b.shape.length == 2) {
            return timesBf16Weight(a, b);
        } else if (a.dtype != b.dtype) {
            DType t = DType.promote(a.dtype, b.dtype);
            return matmul(a.to(t), b.to(t));
        }
        if (a.shape.length == 1 && b.shape.length == 1) {
            checkInner(a.shape, b.shape, a.shape[0], b.shape[0]);
            return core(a.unsqueeze(0), b.unsqueeze(1), outType).reshape();
        }
        if (a.shape.length == 1) return core(a.unsqueeze(0), b, outType).squeeze(-2);
        if (b.shape.length == 1) return core(a, b.unsqueeze(1), outType).squeeze(-1);
        return core(a, b, outType);
    }

    /**
     * F32 a [..., k] times a BF16 matrix b [k, n] on one device: a layer's input times a weight kept in BF16 (half the
     * memory, and half the bytes a decoding step reads). The result is F32 and equals the product with b widened to F32
     * first, which is what the promotion of mixed dtypes gives: against a transposed row-major b (Wᵀ, as a linear layer
     * multiplies) the CPU's GEMM reads the BF16 values in place on the route an F32 weight takes (bit for bit), and on
     * CUDA a few rows take a kernel that does (to rounding); otherwise b is widened once. Gradients are the promotion's:
     * a's in F32, b's cast to BF16.
     */
    private static Tensor timesBf16Weight(Tensor a, Tensor b) {
        int k = b.shape[0], n = b.shape[1];
        int rows = a.shape.length == 1 ? 1 : (int) (Shape.numel(a.shape) / Math.max(1, k));
        int[] outShape = a.shape.length == 1 ? new int[] {n} : a.shape.clone();
        outShape[outShape.length - 1] = n;
        Tensor out = Tensor.allocate(DType.F32, outShape, a.device(), false);
        boolean done;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor a2 = a.reshape(rows, k); // a view where one exists, as the F32 route folds a's rows
            done = rows == 0 || n == 0 || Backend.of("matmul", a2, b).matmulBf16Weight(a2, b, out.view(new int[] {rows, n}, new long[] {n, 1}, 0));
        }
        if (!done) { // another layout, or no Vector API: b widened, in its own layout where it is Wᵀ
            out.close();
            boolean transposed = b.strides[0] == 1 && b.strides[1] >= k;
            return matmul(a, transposed ? b.transpose(0, 1).to(DType.F32).transpose(0, 1) : b.to(DType.F32));
        }
        return Autograd.record("matmul", out, new Tensor[] {a, b}, new Tensor[] {a, b}, (g, s) -> new Tensor[] {
                a.requiresGrad ? g.matmul(s[1].transpose(-1, -2)) : null,
                b.requiresGrad ? weightGradient(s[0], g, b.shape).to(DType.BF16) : null});
    }

    /** aᵀ·g summed to b's shape, as {@link #core}'s backward forms it (a 1-D a as its one row). */
    private static Tensor weightGradient(Tensor a, Tensor g, int[] bShape) {
        if (a.shape.length == 1) return a.unsqueeze(1).matmul(g.unsqueeze(0));
        return Pointwise.sumTo(a.transpose(-1, -2).matmul(g), bShape);
    }

    /** Autocast takes F32 products, and products of F32 with BF16: at least one F32 operand, the other F32 or BF16. */
    private static boolean autocastable(DType a, DType b) {
        return (a == DType.F32 && (b == DType.F32 || b == DType.BF16)) || (b == DType.F32 && a == DType.BF16);
    }

    private static void checkInner(int[] as, int[] bs, int ka, int kb) {
        if (ka != kb) {
            throw new IllegalArgumentException("matmul: shapes " + Shape.str(as) + " and " + Shape.str(bs) + " cannot be multiplied ("
                    + ka + " columns vs " + kb + " rows)");
        }
    }

    /**
     * a·b (ranks ≥ 2) with its result in {@code outType}, not recorded: for ops that record their own backward, as
     * the mixed-precision path of {@link Functional#linear} (BF16 operands, F32 result, on CUDA).
     */
    static Tensor productNoGrad(Tensor a, Tensor b, DType outType) {
        int ra = a.shape.length, rb = b.shape.length;
        int m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
        checkInner(a.shape, b.shape, k, b.shape[rb - 2]);
        try (Grad.Region g = Grad.noGrad()) {
            return compute(a, b, m, k, n, outType);
        }
    }

    /** Both operands have rank >= 2; the result is of {@code outType} (a's dtype, or F32 for BF16 operands on CUDA). */
    private static Tensor core(Tensor a, Tensor b, DType outType) {
        int ra = a.shape.length, rb = b.shape.length;
        int m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
        checkInner(a.shape, b.shape, k, b.shape[rb - 2]);
        Tensor out;
        try (Grad.Region g = Grad.noGrad()) {
            out = compute(a, b, m, k, n, outType);
        }
        int[] as = a.shape.clone(), bs = b.shape.clone();
        return Autograd.record("matmul", out, new Tensor[] {a, b}, new Tensor[] {a, b}, (g, s) -> new Tensor[] {
                a.requiresGrad ? Pointwise.sumTo(g.matmul(s[1].transpose(-1, -2)), as) : null,
                b.requiresGrad ? Pointwise.sumTo(s[0].transpose(-1, -2).matmul(g), bs) : null});
    }

    private static Tensor compute(Tensor a, Tensor b, int m, int k, int n, DType outType) {
        DType dt = outType;
        if ((a.dtype == DType.BF16 || a.dtype == DType.F16) && a.device().isCpu()) { // the CPU multiplies these in F32
            try (Scope s = Scope.open()) {
                return s.keep(compute(a.to(DType.F32), b.to(DType.F32), m, k, n, DType.F32).to(outType));
            }
        }
        int ra = a.shape.length, rb = b.shape.length;
        if (rb == 2) { // fold a's batch dims into its rows: one large GEMM instead of many small ones
            int[] outShape = a.shape.clone();
            outShape[ra - 1] = n;
            int rows = (int) (Shape.numel(a.shape) / Math.max(1, k));
            if (k == 0) rows = (int) (Shape.numel(outShape) / Math.max(1, n));
            Tensor out = Tensor.allocate(dt, outShape, a.device(), k == 0);
            try (Scope s = Scope.open()) {
                Tensor a3 = a.reshape(1, rows, k);
                Tensor b3 = b.unsqueeze(0);
                Tensor o3 = out.view(new int[] {1, rows, n}, new long[] {(long) rows * n, n, 1}, 0);
                if (rows > 0 && n > 0 && k > 0) Backend.of("matmul", a, b).matmul(a3, b3, o3);
            }
            return out;
        }
        int[] ab = java.util.Arrays.copyOf(a.shape, ra - 2), bb = java.util.Arrays.copyOf(b.shape, rb - 2);
        int[] batch = Shape.broadcast("matmul", ab, bb);
        int nb = (int) Shape.numel(batch);
        int[] outShape = java.util.Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor out = Tensor.allocate(dt, outShape, a.device(), k == 0);
        try (Scope s = Scope.open()) {
            Tensor a3 = flattenBatch(a.expand(concat(batch, m, k)), nb, m, k);
            Tensor b3 = flattenBatch(b.expand(concat(batch, k, n)), nb, k, n);
            Tensor o3 = out.view(new int[] {nb, m, n}, new long[] {(long) m * n, n, 1}, 0);
            if (nb > 0 && m > 0 && n > 0 && k > 0) Backend.of("matmul", a, b).matmul(a3, b3, o3);
        }
        return out;
    }

    private static int[] concat(int[] batch, int r, int c) {
        int[] s = java.util.Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = r;
        s[batch.length + 1] = c;
        return s;
    }

    /** [batch..., r, c] as [nb, r, c]: a view when the batch dims merge (stride 0 included), else a copy. */
    private static Tensor flattenBatch(Tensor t, int nb, int r, int c) {
        int rank = t.shape.length;
        long[] st = t.strides;
        boolean mergeable = true;
        long bstride = 0;
        int prev = -1;
        for (int i = 0; i < rank - 2; i++) {
            if (t.shape[i] == 1) continue;
            if (prev >= 0 && st[prev] != st[i] * t.shape[i]) { mergeable = false; break; }
            prev = i;
            bstride = st[i];
        }
        if (mergeable) return t.view(new int[] {nb, r, c}, new long[] {bstride, st[rank - 2], st[rank - 1]}, t.offset);
        Tensor cc = t.contiguous();
        return cc.view(new int[] {nb, r, c}, new long[] {(long) r * c, c, 1}, cc.offset);
    }
}
