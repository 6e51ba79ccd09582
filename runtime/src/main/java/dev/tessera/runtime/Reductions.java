package dev.tessera.runtime;

import dev.tessera.runtime.Backend.ReduceKind;

/** Reductions over any set of dimensions, with keepdim, and their gradients. */
final class Reductions {
    private Reductions() {}

    /** The reduced shape, with 1s in place of reduced dims when {@code keepdim}. */
    static int[] reducedShape(int[] shape, int[] dims, boolean keepdim) {
        boolean[] red = new boolean[shape.length];
        for (int d : dims) red[d] = true;
        int n = 0;
        for (int i = 0; i < shape.length; i++) if (!red[i] || keepdim) n++;
        int[] out = new int[n];
        for (int i = 0, k = 0; i < shape.length; i++) {
            if (!red[i]) out[k++] = shape[i];
            else if (keepdim) out[k++] = 1;
        }
        return out;
    }

    /** Reduces {@code x} over normalised {@code dims}; records nothing. */
    static Tensor reduceRaw(ReduceKind kind, Tensor x, int[] dims, boolean keepdim, DType outType) {
        int r = x.shape.length;
        boolean[] red = new boolean[r];
        for (int d : dims) red[d] = true;
        int[] order = new int[r];
        int k = 0;
        long rows = 1, n = 1;
        for (int i = 0; i < r; i++) if (!red[i]) { order[k++] = i; rows *= x.shape[i]; }
        for (int i = 0; i < r; i++) if (red[i]) { order[k++] = i; n *= x.shape[i]; }
        int[] outShape = reducedShape(x.shape, dims, keepdim);
        if (n == 0 && kind != ReduceKind.SUM) {
            throw new IllegalArgumentException(kind.name().toLowerCase(java.util.Locale.ROOT) + ": cannot reduce over an empty dimension of shape "
                    + Shape.str(x.shape));
        }
        try (Grad.Region g = Grad.noGrad()) {
            Tensor out = Tensor.allocate(outType, outShape, x.device(), n == 0);
            if (rows == 0 || n == 0) return out; // sum over nothing is 0
            try (Scope s = Scope.open()) {
                // Sums over leading dims of a dense tensor (bias gradients: [B·L, D] → [D]) add rows in place where the
                // backend can, instead of transposing the whole tensor for a row reduction.
                if (kind == ReduceKind.SUM && outType == x.dtype && x.isContiguous() && reducesLeadingDims(red)
                        && Backend.of(x).sumLeading(x, (int) n, (int) rows, out)) {
                    return out;
                }
                Tensor rowsView = x.permute(order).contiguous().reshape((int) rows, (int) n);
                Tensor flat = out.view(new int[] {(int) rows}, new long[] {1}, out.offset);
                Backend.of(x).reduceRows(kind, rowsView, (int) rows, (int) n, flat);
            }
            return out;
        }
    }

    /** True when the reduced dims are exactly a non-empty prefix and at least one dim is kept. */
    private static boolean reducesLeadingDims(boolean[] red) {
        int p = 0;
        while (p < red.length && red[p]) p++;
        if (p == 0 || p == red.length) return false;
        for (int i = p; i < red.length; i++) if (red[i]) return false;
        return true;
    }

    static double sumRaw(Tensor x) {
        try (Scope s = Scope.open()) {
            return reduceRaw(ReduceKind.SUM, x, Shape.dims("sum", null, x.shape.length), false, DType.F64).item();
        }
    }

    private static DType sumType(DType t) { return t.isFloating() ? t : DType.I64; }

    /** Expands a reduced gradient back over the reduced dims. */
    static Tensor expandBack(Tensor g, int[] inShape, int[] dims, boolean keepdim) {
        Tensor gk = keepdim ? g : g.reshape(reducedShape(inShape, dims, true));
        return gk.expand(inShape);
    }

    static Tensor sum(Tensor x, int[] dims, boolean keepdim) {
        x.checkAlive("sum");
        int[] d = Shape.dims("sum", dims, x.shape.length);
        Tensor out = reduceRaw(ReduceKind.SUM, x, d, keepdim, sumType(x.dtype));
        int[] in = x.shape.clone();
        return Autograd.record("sum", out, new Tensor[] {x}, new Tensor[0], (g, s) -> new Tensor[] {expandBack(g, in, d, keepdim)});
    }

    static Tensor mean(Tensor x, int[] dims, boolean keepdim) {
        x.checkAlive("mean");
        int[] d = Shape.dims("mean", dims, x.shape.length);
        long n = 1;
        for (int i : d) n *= x.shape[i];
        if (n == 0) throw new IllegalArgumentException("mean: cannot average over an empty dimension of shape " + Shape.str(x.shape));
        Tensor s = reduceRaw(ReduceKind.SUM, x, d, keepdim, x.dtype.toFloating());
        double inv = 1.0 / n;
        Tensor out;
        try (Grad.Region g = Grad.noGrad()) {
            out = s.affineInPlace(inv, 0);
        }
        int[] in = x.shape.clone();
        return Autograd.record("mean", out, new Tensor[] {x}, new Tensor[0],
                (g, sv) -> new Tensor[] {expandBack(g.mul(inv), in, d, keepdim)});
    }

    static Tensor extremum(Tensor x, int[] dims, boolean keepdim, boolean max) {
        String op = max ? "max" : "min";
        x.checkAlive(op);
        int[] d = Shape.dims(op, dims, x.shape.length);
        Tensor out = reduceRaw(max ? ReduceKind.MAX : ReduceKind.MIN, x, d, keepdim, x.dtype);
        int[] in = x.shape.clone();
        return Autograd.record(op, out, new Tensor[] {x}, new Tensor[] {x, out}, (g, s) -> {
            // The gradient is shared evenly among the elements that attain the extremum.
            Tensor ext = expandBack(s[1], in, d, keepdim);
            Tensor mask = s[0].eq(ext).to(g.dtype);
            Tensor count = mask.sum(d, true);
            Tensor gk = keepdim ? g : g.reshape(reducedShape(in, d, true));
            return new Tensor[] {mask.mul(gk.div(count))};
        });
    }

    static Tensor argExtremum(Tensor x, int dim, boolean keepdim, boolean max) {
        String op = max ? "argmax" : "argmin";
        x.checkAlive(op);
        int d = Shape.dim(op, dim, x.shape.length);
        return reduceRaw(max ? ReduceKind.ARGMAX : ReduceKind.ARGMIN, x, new int[] {d}, keepdim, DType.I64);
    }

    static Tensor var(Tensor x, int[] dims, boolean unbiased, boolean keepdim) {
        x.checkAlive("var");
        int[] d = Shape.dims("var", dims, x.shape.length);
        long n = 1;
        for (int i : d) n *= x.shape[i];
        long denom = unbiased ? n - 1 : n;
        if (denom <= 0) throw new IllegalArgumentException("var: " + n + " elements are too few" + (unbiased ? " for the unbiased estimate" : ""));
        Tensor centered = x.sub(x.mean(d, true));
        return centered.mul(centered).sum(d, keepdim).div(denom);
    }

    static Tensor logsumexp(Tensor x, int[] dims, boolean keepdim) {
        x.checkAlive("logsumexp");
        int[] d = Shape.dims("logsumexp", dims, x.shape.length);
        Tensor out = reduceRaw(ReduceKind.LOGSUMEXP, x, d, keepdim, x.dtype.toFloating());
        int[] in = x.shape.clone();
        return Autograd.record("logsumexp", out, new Tensor[] {x}, new Tensor[] {x, out}, (g, s) -> {
            Tensor lse = keepdim ? s[1] : s[1].reshape(reducedShape(in, d, true));
            Tensor gk = keepdim ? g : g.reshape(reducedShape(in, d, true));
            Tensor p = s[0].sub(lse).exp();
            // Rows of all -inf give NaN here; their gradient is 0.
            Tensor finite = lse.gt(Tensor.full(Double.NEGATIVE_INFINITY, lse.dtype, lse.device()));
            return new Tensor[] {p.mul(gk).where(finite, Tensor.full(0, g.dtype, g.device()))};
        });
    }
}
