package dev.tessera.runtime;

/** embedding, index_select, gather and scatter_add, with their gradients. */
final class Indexing {
    private Indexing() {}

    private static long[] checkedIndices(String op, Tensor idx, int bound, int dim) {
        idx.checkAlive(op);
        if (!idx.dtype.isIntegral() || idx.dtype == DType.BOOL) {
            throw new IllegalArgumentException(op + ": indices must be I32, I64 or U8, got " + idx.dtype);
        }
        long[] v = idx.toLongArray();
        for (long i : v) {
            if (i < 0 || i >= bound) {
                throw new IndexOutOfBoundsException(op + ": index " + i + " out of range for dimension " + dim + " of size " + bound);
            }
        }
        return v;
    }

    private static int prod(int[] s, int from, int to) {
        int p = 1;
        for (int i = from; i < to; i++) p *= s[i];
        return p;
    }

    static Tensor embedding(Tensor table, Tensor idx) {
        table.checkAlive("embedding");
        if (table.shape.length != 2) throw new IllegalArgumentException("embedding: table must be [V, D], got " + Shape.str(table.shape));
        int[] outShape = java.util.Arrays.copyOf(idx.shape, idx.shape.length + 1);
        outShape[idx.shape.length] = table.shape[1];
        // No scope here: closing one would also release the graph nodes recorded in it, cutting the
        // gradient path to the table. Only the flat index view is temporary.
        Tensor flat = idx.reshape(-1);
        Tensor out = indexSelectChecked("embedding", table, 0, flat).reshape(outShape);
        flat.close();
        return out;
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor idx) {
        if (idx.shape.length != 1) throw new IllegalArgumentException("index_select: indices must be 1-D, got " + Shape.str(idx.shape));
        return indexSelectChecked("index_select", x, dim, idx);
    }

    private static Tensor indexSelectChecked(String op, Tensor x, int dim, Tensor idx) {
        x.checkAlive(op);
        int d = Shape.dim(op, dim, x.shape.length);
        long[] ix = checkedIndices(op, idx, x.shape[d], d);
        int outer = prod(x.shape, 0, d), size = x.shape[d], inner = prod(x.shape, d + 1, x.shape.length);
        int[] outShape = x.shape.clone();
        outShape[d] = ix.length;
        Tensor out = Tensor.allocate(x.dtype, outShape, x.device());
        // On a GPU the indices go up once, grouped by row, and serve the backward too (no second upload, no atomics).
        Tensor plan = x.device().isCpu() || ix.length == 0 ? null : uploadPlan(op, ix, size, x.device());
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor xc = x.contiguous();
            if (out.numel() > 0) Backend.of(xc).selectRows(xc, outer, size, inner, ix, plan, out);
        }
        if (plan != null && !(Grad.isEnabled() && x.requiresGrad())) { // no backward to keep it for
            plan.close();
            plan = null;
        }
        int[] in = x.shape.clone();
        DType dt = x.dtype;
        return Autograd.record(op, out, new Tensor[] {x}, plan == null ? new Tensor[0] : new Tensor[] {plan}, (g, s) -> {
            Tensor acc = Tensor.zeros(dt, g.device(), in);
            try (Scope sc = Scope.open()) {
                Tensor gc = g.contiguous();
                Backend.of(gc).addRows(gc, outer, size, inner, ix, s.length == 0 ? null : s[0], acc);
            }
            return new Tensor[] {acc};
        });
    }

    /** The indices grouped by row ({@code cuda.RowPlan}) on {@code device}: one upload. */
    private static Tensor uploadPlan(String op, long[] ix, int size, Device device) {
        long[] p = dev.tessera.runtime.cuda.RowPlan.build(op, ix, size);
        try (Tensor host = Tensor.of(p, p.length)) {
            return host.to(device);
        }
    }

    private static void checkIndexShape(String op, Tensor x, int d, Tensor idx) {
        if (idx.shape.length != x.shape.length) {
            throw new IllegalArgumentException(op + ": index rank " + idx.shape.length + " differs from input rank " + x.shape.length
                    + " (index " + Shape.str(idx.shape) + ", input " + Shape.str(x.shape) + ")");
        }
        for (int i = 0; i < x.shape.length; i++) {
            if (i != d && idx.shape[i] != x.shape[i]) {
                throw new IllegalArgumentException(op + ": index shape " + Shape.str(idx.shape) + " must match input shape " + Shape.str(x.shape)
                        + " in every dimension but " + d);
            }
        }
    }

    static Tensor gather(Tensor x, int dim, Tensor idx) {
        x.checkAlive("gather");
        int d = Shape.dim("gather", dim, x.shape.length);
        checkIndexShape("gather", x, d, idx);
        checkedIndices("gather", idx, x.shape[d], d);
        int outer = prod(x.shape, 0, d), size = x.shape[d], inner = prod(x.shape, d + 1, x.shape.length), n = idx.shape[d];
        Tensor out = Tensor.allocate(x.dtype, idx.shape, x.device());
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor xc = x.contiguous(), ic = idx.contiguous();
            Backend.of(xc).gather(xc, outer, size, inner, ic, n, out);
        }
        int[] in = x.shape.clone();
        DType dt = x.dtype;
        return Autograd.record("gather", out, new Tensor[] {x}, new Tensor[] {idx}, (g, s) -> {
            Tensor acc = Tensor.zeros(dt, g.device(), in);
            try (Scope sc = Scope.open()) {
                Backend.of(acc).scatterAdd(acc, outer, size, inner, s[0].contiguous(), n, g.contiguous());
            }
            return new Tensor[] {acc};
        });
    }

    static Tensor scatterAdd(Tensor x, int dim, Tensor idx, Tensor src) {
        x.checkAlive("scatter_add");
        src.checkAlive("scatter_add");
        int d = Shape.dim("scatter_add", dim, x.shape.length);
        checkIndexShape("scatter_add", x, d, idx);
        if (!Tensor.sameShape(idx, src)) {
            throw new IllegalArgumentException("scatter_add: index shape " + Shape.str(idx.shape) + " and source shape " + Shape.str(src.shape) + " differ");
        }
        checkedIndices("scatter_add", idx, x.shape[d], d);
        int outer = prod(x.shape, 0, d), size = x.shape[d], inner = prod(x.shape, d + 1, x.shape.length), n = idx.shape[d];
        Tensor out;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            out = s.keep(ShapeOps.copyOf(x, DType.promote(x.dtype, src.dtype)));
            Backend.of("scatter_add", out, idx, src).scatterAdd(out, outer, size, inner, idx.contiguous(), n, src.contiguous());
        }
        return Autograd.record("scatter_add", out, new Tensor[] {x, src}, new Tensor[] {idx},
                (g, s) -> new Tensor[] {g, gather(g, d, s[0])});
    }
}
