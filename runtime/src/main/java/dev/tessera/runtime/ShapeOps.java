package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.List;

/** Copies and ops that rearrange or combine tensors: cat, stack, split, chunk, pad, triu/tril. */
final class ShapeOps {
    private ShapeOps() {}

    /** A contiguous copy in dtype {@code target} (differentiable between floating types). */
    static Tensor copyOf(Tensor x, DType target) {
        x.checkAlive("copy");
        Tensor out = Tensor.allocate(target, x.shape, x.device());
        Backend.of(x).copy(x, out);
        if (!target.isFloating()) return out;
        DType from = x.dtype;
        return Autograd.record(target == from ? "clone" : "to_" + target, out, new Tensor[] {x}, new Tensor[0],
                (g, s) -> new Tensor[] {g.dtype == from ? g : g.to(from)});
    }

    static Tensor cat(List<Tensor> ts, int dim) {
        if (ts.isEmpty()) throw new IllegalArgumentException("cat: no tensors given");
        Tensor first = ts.get(0);
        int r = first.shape.length;
        if (r == 0) throw new IllegalArgumentException("cat: zero-dimensional tensors cannot be concatenated; unsqueeze them first");
        int d = Shape.dim("cat", dim, r);
        DType dt = first.dtype;
        int total = 0;
        for (Tensor t : ts) {
            t.checkAlive("cat");
            if (t.shape.length != r) {
                throw new IllegalArgumentException("cat: tensors must have the same rank: " + Shape.str(first.shape) + " and " + Shape.str(t.shape));
            }
            for (int i = 0; i < r; i++) {
                if (i != d && t.shape[i] != first.shape[i]) {
                    throw new IllegalArgumentException("cat: shapes " + Shape.str(first.shape) + " and " + Shape.str(t.shape)
                            + " differ in dimension " + i + " (only dimension " + d + " may differ)");
                }
            }
            dt = DType.promote(dt, t.dtype);
            total += t.shape[d];
        }
        int[] shape = first.shape.clone();
        shape[d] = total;
        Tensor out = Tensor.allocate(dt, shape, first.device());
        int[] sizes = new int[ts.size()];
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            int at = 0;
            for (int i = 0; i < ts.size(); i++) {
                Tensor t = ts.get(i);
                sizes[i] = t.shape[d];
                if (sizes[i] > 0) Backend.of("cat", out, t).copy(t, Views.narrow(out, d, at, sizes[i], 1));
                at += sizes[i];
            }
        }
        return Autograd.record("cat", out, ts.toArray(new Tensor[0]), new Tensor[0], (g, s) -> {
            Tensor[] gs = new Tensor[sizes.length];
            int at = 0;
            for (int i = 0; i < sizes.length; i++) {
                gs[i] = g.narrow(d, at, sizes[i]);
                at += sizes[i];
            }
            return gs;
        });
    }

    static Tensor stack(List<Tensor> ts, int dim) {
        if (ts.isEmpty()) throw new IllegalArgumentException("stack: no tensors given");
        int d = Shape.dim("stack", dim, ts.get(0).shape.length + 1);
        List<Tensor> us = new ArrayList<>();
        for (Tensor t : ts) {
            if (!Tensor.sameShape(t, ts.get(0))) {
                throw new IllegalArgumentException("stack: all tensors must have one shape: " + Shape.str(ts.get(0).shape) + " and " + Shape.str(t.shape));
            }
            us.add(t.unsqueeze(d));
        }
        return cat(us, d);
    }

    static List<Tensor> split(Tensor x, int size, int dim) {
        int d = Shape.dim("split", dim, x.shape.length);
        if (size <= 0) throw new IllegalArgumentException("split: size must be positive, got " + size);
        List<Tensor> out = new ArrayList<>();
        for (int at = 0; at < x.shape[d]; at += size) out.add(x.narrow(d, at, Math.min(size, x.shape[d] - at)));
        return out;
    }

    static List<Tensor> chunk(Tensor x, int n, int dim) {
        int d = Shape.dim("chunk", dim, x.shape.length);
        if (n <= 0) throw new IllegalArgumentException("chunk: count must be positive, got " + n);
        return split(x, Math.max(1, (x.shape[d] + n - 1) / n), d);
    }

    static Tensor pad(Tensor x, int[] pads, double value) {
        x.checkAlive("pad");
        int r = x.shape.length;
        if (pads.length % 2 != 0 || pads.length / 2 > r) {
            throw new IllegalArgumentException("pad: expected (before, after) pairs for at most " + r + " dims, got " + pads.length + " values for a tensor "
                    + Shape.str(x.shape));
        }
        int[] shape = x.shape.clone();
        int[] before = new int[r];
        for (int p = 0; p < pads.length / 2; p++) {
            int d = r - 1 - p;
            if (pads[2 * p] < 0 || pads[2 * p + 1] < 0) throw new IllegalArgumentException("pad: negative padding " + java.util.Arrays.toString(pads) + " for a tensor " + Shape.str(x.shape));
            before[d] = pads[2 * p];
            shape[d] += pads[2 * p] + pads[2 * p + 1];
        }
        Tensor out = Tensor.full(value, x.dtype, x.device(), shape);
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor inner = out;
            for (int d = 0; d < r; d++) inner = Views.narrow(inner, d, before[d], x.shape[d], 1);
            Backend.of(x).copy(x, inner);
        }
        int[] in = x.shape.clone();
        return Autograd.record("pad", out, new Tensor[] {x}, new Tensor[0], (g, s) -> {
            Tensor v = g;
            for (int d = 0; d < in.length; d++) v = v.narrow(d, before[d], in[d]);
            return new Tensor[] {v};
        });
    }

    /** Mask of the upper (or lower) triangle of the last two dims: col - row >= k (or <= k). */
    static Tensor triangleMask(int rows, int cols, int k, boolean upper) {
        boolean[] m = new boolean[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) m[i * cols + j] = upper ? j - i >= k : j - i <= k;
        }
        return Tensor.of(m, rows, cols);
    }

    static Tensor triangle(Tensor x, int k, boolean upper) {
        String op = upper ? "triu" : "tril";
        x.checkAlive(op);
        if (x.shape.length < 2) throw new IllegalArgumentException(op + ": needs at least 2 dims, got shape " + Shape.str(x.shape));
        Tensor mask = triangleMask(x.shape[x.shape.length - 2], x.shape[x.shape.length - 1], k, upper).to(x.device());
        return x.where(mask, Tensor.full(0, x.dtype, x.device()));
    }
}
