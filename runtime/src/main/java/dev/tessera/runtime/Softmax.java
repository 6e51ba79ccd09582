package dev.tessera.runtime;

/** Softmax and log-softmax along one dimension, with fused kernels for both directions. */
final class Softmax {
    private Softmax() {}

    static Tensor softmax(Tensor x, int dim, boolean log) {
        String op = log ? "log_softmax" : "softmax";
        x.checkAlive(op);
        if (!x.dtype.isFloating()) throw new IllegalArgumentException(op + ": needs a floating tensor, got " + x.dtype);
        int r = x.shape.length;
        if (r == 0) return softmax(x.reshape(1), 0, log).reshape();
        int d = Shape.dim(op, dim, r);
        Tensor out;
        try (Grad.Region g = Grad.noGrad()) {
            out = lastDim(x, d, log, null);
        }
        return Autograd.record(op, out, new Tensor[] {x}, new Tensor[] {out}, (g, s) -> {
            try (Grad.Region ng = Grad.noGrad()) {
                return new Tensor[] {lastDim(s[0], d, log, g)};
            }
        });
    }

    /**
     * Forward (dy == null) or backward over dim d: moves d last, runs the row kernel on a contiguous copy,
     * and moves it back.
     */
    private static Tensor lastDim(Tensor y, int d, boolean log, Tensor dy) {
        int r = y.shape.length;
        DType dt = y.dtype == DType.F64 ? DType.F64 : DType.F32;
        try (Scope s = Scope.open()) {
            Tensor yl = y.transpose(d, r - 1).contiguous().to(dt);
            int n = yl.shape[r - 1];
            int rows = (int) (yl.numel() / Math.max(1, n));
            Tensor out = Tensor.allocate(dt, yl.shape, y.device());
            if (rows > 0 && n > 0) {
                Tensor y2 = yl.reshape(rows, n), o2 = out.view(new int[] {rows, n}, new long[] {n, 1}, 0);
                if (dy == null) {
                    Backend.of(y).softmax(y2, o2, log);
                } else {
                    Tensor g2 = dy.transpose(d, r - 1).contiguous().to(dt).reshape(rows, n);
                    Backend.of(y).softmaxBackward(y2, g2, o2, log);
                }
            }
            Tensor back = out.transpose(d, r - 1);
            return s.keep(back.dtype == y.dtype && back.isContiguous() ? back : back.contiguous().to(y.dtype));
        }
    }
}
