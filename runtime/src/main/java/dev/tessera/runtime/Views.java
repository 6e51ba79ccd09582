package dev.tessera.runtime;

import java.util.Arrays;

/** Ops that return views sharing storage with their input, and their gradients. */
final class Views {
    private Views() {}

    /** A new tensor object on the same data, cut from nothing: the identity op, still recorded. */
    static Tensor identity(Tensor x) {
        Tensor v = x.view(x.shape, x.strides, x.offset);
        return Autograd.record("identity", v, new Tensor[] {x}, new Tensor[0], (g, s) -> new Tensor[] {g});
    }

    private static int[] inferShape(String op, Tensor x, int[] shape) {
        int[] out = shape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException(op + ": only one dimension can be -1 in " + Shape.str(shape)
                            + " (input shape " + Shape.str(x.shape) + ")");
                infer = i;
            } else if (out[i] < 0) {
                throw new IllegalArgumentException(op + ": negative dimension in " + Shape.str(shape) + " (input shape " + Shape.str(x.shape) + ")");
            } else {
                known *= out[i];
            }
        }
        long n = x.numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException(op + ": shape " + Shape.str(shape) + " is invalid for a tensor of shape " + Shape.str(x.shape));
            }
            out[infer] = (int) (n / known);
        } else if (known != n) {
            throw new IllegalArgumentException(op + ": shape " + Shape.str(shape) + " is invalid for a tensor of shape " + Shape.str(x.shape)
                    + " (" + n + " elements)");
        }
        return out;
    }

    /** Strides that view x's memory as {@code shape}, or null when the layout does not allow it. */
    private static long[] viewStrides(int[] from, long[] fromStrides, int[] to) {
        // Walk both shapes in groups of equal element counts; inside a group x must be contiguous.
        long[] st = new long[to.length];
        int i = 0, j = 0;
        while (i < from.length || j < to.length) {
            long pa = 1, pb = 1;
            int i0 = i, j0 = j;
            if (i < from.length) pa = from[i++];
            if (j < to.length) pb = to[j++];
            while (pa != pb) {
                if (pa < pb) {
                    if (i >= from.length) return null;
                    pa *= from[i++];
                } else {
                    if (j >= to.length) return null;
                    pb *= to[j++];
                }
            }
            int prev = -1; // the group's non-trivial dims must be contiguous with each other
            for (int k = i0; k < i; k++) {
                if (from[k] == 1) continue;
                if (prev >= 0 && fromStrides[prev] != fromStrides[k] * from[k]) return null;
                prev = k;
            }
            // innermost stride of the group, skipping size-1 dims
            long inner = 1;
            for (int k = i - 1; k >= i0; k--) {
                if (from[k] != 1) { inner = fromStrides[k]; break; }
            }
            long s = inner;
            for (int k = j - 1; k >= j0; k--) {
                st[k] = s;
                s *= to[k];
            }
        }
        return st;
    }

    /** x's memory seen as {@code shape} without a copy (an unrecorded view), or null when its layout does not allow it. */
    static Tensor viewOrNull(Tensor x, int[] shape) {
        if (Shape.numel(shape) != x.numel()) return null;
        long[] st = x.numel() == 0 ? Shape.contiguousStrides(shape) : viewStrides(x.shape, x.strides, shape);
        return st == null ? null : x.view(shape.clone(), st, x.offset);
    }

    static Tensor view(Tensor x, int[] shape) {
        x.checkAlive("view");
        int[] target = inferShape("view", x, shape);
        long[] st = x.numel() == 0 ? Shape.contiguousStrides(target) : viewStrides(x.shape, x.strides, target);
        if (st == null) {
            throw new IllegalArgumentException("view: shape " + Shape.str(target) + " is not compatible with the strides of the input "
                    + Shape.str(x.shape) + " " + Arrays.toString(x.strides) + "; use reshape()");
        }
        int[] in = x.shape.clone();
        Tensor out = Autograd.record("view", x.view(target, st, x.offset), new Tensor[] {x}, new Tensor[0],
                (g, s) -> new Tensor[] {g.reshape(in)});
        if (out.gradFn != null && out.gradFn.inputs[0] == x) out.gradFn.reshapeView = true;
        return out;
    }

    static Tensor reshape(Tensor x, int[] shape) {
        x.checkAlive("reshape");
        int[] target = inferShape("reshape", x, shape);
        long[] st = x.numel() == 0 ? Shape.contiguousStrides(target) : viewStrides(x.shape, x.strides, target);
        if (st != null) return view(x, target);
        return view(x.clone(), target);
    }

    static Tensor permute(Tensor x, int[] order) {
        x.checkAlive("permute");
        int r = x.shape.length;
        if (order.length != r) {
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " has " + order.length + " dims, tensor "
                    + Shape.str(x.shape) + " has " + r);
        }
        int[] shape = new int[r];
        long[] st = new long[r];
        int[] inverse = new int[r];
        boolean[] used = new boolean[r];
        for (int i = 0; i < r; i++) {
            int d = Shape.dim("permute", order[i], r);
            if (used[d]) {
                throw new IllegalArgumentException("permute: dimension " + d + " repeated in " + Arrays.toString(order) + " for a tensor "
                        + Shape.str(x.shape));
            }
            used[d] = true;
            shape[i] = x.shape[d];
            st[i] = x.strides[d];
            inverse[d] = i;
        }
        return Autograd.record("permute", x.view(shape, st, x.offset), new Tensor[] {x}, new Tensor[0],
                (g, s) -> new Tensor[] {g.permute(inverse)});
    }

    static Tensor transpose(Tensor x, int d0, int d1) {
        int r = x.shape.length;
        int a = Shape.dim("transpose", d0, r), b = Shape.dim("transpose", d1, r);
        int[] order = new int[r];
        for (int i = 0; i < r; i++) order[i] = i;
        order[a] = b;
        order[b] = a;
        return permute(x, order);
    }

    static Tensor slice(Tensor x, int dim, int start, int end, int step) {
        int d = Shape.dim("slice", dim, x.shape.length);
        int n = x.shape[d];
        if (step <= 0) throw new IllegalArgumentException("slice: step must be positive, got " + step);
        int s = start < 0 ? Math.max(0, start + n) : Math.min(start, n);
        int e = end < 0 ? Math.max(0, end + n) : Math.min(end, n);
        int len = Math.max(0, (e - s + step - 1) / step);
        return narrow(x, d, s, len, step);
    }

    static Tensor narrow(Tensor x, int dim, int start, int length, int step) {
        x.checkAlive("narrow");
        int d = Shape.dim("narrow", dim, x.shape.length);
        int n = x.shape[d];
        if (start < 0 || length < 0 || (length > 0 && start + (long) (length - 1) * step >= n) || start > n) {
            throw new IndexOutOfBoundsException("narrow: range start " + start + ", length " + length + " out of bounds for dimension " + d
                    + " of size " + n + " (shape " + Shape.str(x.shape) + ")");
        }
        int[] shape = x.shape.clone();
        shape[d] = length;
        long[] st = x.strides.clone();
        st[d] = x.strides[d] * step;
        int[] in = x.shape.clone();
        DType dt = x.dtype;
        Tensor out = Autograd.record("narrow", x.view(shape, st, x.offset + start * x.strides[d]), new Tensor[] {x}, new Tensor[0], (g, s) -> {
            Tensor full = Tensor.zeros(dt, g.device(), in);
            try (Grad.Region r = Grad.noGrad()) {
                narrow(full, d, start, length, step).copyFrom(g);
            }
            return new Tensor[] {full};
        });
        if (out.gradFn != null && out.gradFn.inputs[0] == x) out.gradFn.slice = new Node.Slice(d, start, length, step);
        return out;
    }

    static Tensor select(Tensor x, int dim, int index) {
        int d = Shape.dim("select", dim, x.shape.length);
        int n = x.shape[d];
        int i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("select: index " + index + " out of range for dimension " + d + " of size " + n);
        }
        return squeeze(narrow(x, d, i, 1, 1), d);
    }

    static Tensor squeeze(Tensor x, Integer dim) {
        x.checkAlive("squeeze");
        int r = x.shape.length;
        int only = dim == null ? -1 : Shape.dim("squeeze", dim, r);
        int keep = 0;
        for (int i = 0; i < r; i++) if (!(x.shape[i] == 1 && (only < 0 || only == i))) keep++;
        int[] shape = new int[keep];
        long[] st = new long[keep];
        for (int i = 0, k = 0; i < r; i++) {
            if (x.shape[i] == 1 && (only < 0 || only == i)) continue;
            shape[k] = x.shape[i];
            st[k++] = x.strides[i];
        }
        int[] in = x.shape.clone();
        return Autograd.record("squeeze", x.view(shape, st, x.offset), new Tensor[] {x}, new Tensor[0], (g, s) -> new Tensor[] {g.reshape(in)});
    }

    static Tensor unsqueeze(Tensor x, int dim) {
        x.checkAlive("unsqueeze");
        int r = x.shape.length;
        int d = Shape.dim("unsqueeze", dim, r + 1);
        int[] shape = new int[r + 1];
        long[] st = new long[r + 1];
        for (int i = 0, k = 0; i <= r; i++) {
            if (i == d) {
                shape[i] = 1;
                st[i] = d < r ? x.strides[d] * x.shape[d] : 1;
            } else {
                shape[i] = x.shape[k];
                st[i] = x.strides[k++];
            }
        }
        int[] in = x.shape.clone();
        return Autograd.record("unsqueeze", x.view(shape, st, x.offset), new Tensor[] {x}, new Tensor[0], (g, s) -> new Tensor[] {g.reshape(in)});
    }

    static Tensor expand(Tensor x, int[] target) {
        x.checkAlive("expand");
        int r = target.length, lead = r - x.shape.length;
        if (lead < 0) {
            throw new IllegalArgumentException("expand: target " + Shape.str(target) + " has fewer dims than the input " + Shape.str(x.shape));
        }
        int[] shape = new int[r];
        long[] st = new long[r];
        for (int i = 0; i < r; i++) {
            int want = target[i];
            if (want < -1) {
                throw new IllegalArgumentException("expand: negative size " + want + " in " + Shape.str(target) + " for input " + Shape.str(x.shape));
            }
            if (i < lead) {
                if (want < 0) throw new IllegalArgumentException("expand: -1 is not allowed for a new leading dimension in " + Shape.str(target));
                shape[i] = want;
                st[i] = 0;
                continue;
            }
            int have = x.shape[i - lead];
            if (want == -1 || want == have) {
                shape[i] = have;
                st[i] = x.strides[i - lead];
            } else if (have == 1) {
                shape[i] = want;
                st[i] = 0;
            } else {
                throw new IllegalArgumentException("expand: cannot expand shape " + Shape.str(x.shape) + " to " + Shape.str(target)
                        + " (dim " + i + ": " + have + " to " + want + ")");
            }
        }
        int[] in = x.shape.clone();
        return Autograd.record("expand", x.view(shape, st, x.offset), new Tensor[] {x}, new Tensor[0],
                (g, s) -> new Tensor[] {Pointwise.sumTo(g, in)});
    }

    static Tensor flatten(Tensor x, int start, int end) {
        int r = x.shape.length;
        if (r == 0) return reshape(x, new int[] {1});
        int a = Shape.dim("flatten", start, r), b = Shape.dim("flatten", end, r);
        if (a > b) throw new IllegalArgumentException("flatten: start dim " + start + " after end dim " + end);
        int[] shape = new int[r - (b - a)];
        int k = 0;
        for (int i = 0; i < a; i++) shape[k++] = x.shape[i];
        int m = 1;
        for (int i = a; i <= b; i++) m *= x.shape[i];
        shape[k++] = m;
        for (int i = b + 1; i < r; i++) shape[k++] = x.shape[i];
        return reshape(x, shape);
    }
}
