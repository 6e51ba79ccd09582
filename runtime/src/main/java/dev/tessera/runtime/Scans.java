package dev.tessera.runtime;

/** Cumulative sum and product along one dimension. */
final class Scans {
    private Scans() {}

    /** Runs the row scan with {@code dim} moved last. */
    private static Tensor scan(Tensor x, int d, boolean product) {
        int r = x.shape.length;
        DType dt = x.dtype.isFloating() ? x.dtype : DType.I64;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor xl = x.transpose(d, r - 1).contiguous();
            Tensor out = Tensor.allocate(dt, xl.shape, x.device());
            int n = xl.shape[r - 1];
            int rows = (int) (xl.numel() / Math.max(1, n));
            if (n > 0 && rows > 0) Backend.of(xl).scanRows(xl, rows, n, out, product);
            return s.keep(out.transpose(d, r - 1).contiguous());
        }
    }

    static Tensor cumsum(Tensor x, int dim) {
        x.checkAlive("cumsum");
        if (x.shape.length == 0) return x.clone();
        int d = Shape.dim("cumsum", dim, x.shape.length);
        Tensor out = scan(x, d, false);
        // d/dx_i of Σ_j g_j y_j = Σ_{j≥i} g_j = total − cumsum_i + g_i
        return Autograd.record("cumsum", out, new Tensor[] {x}, new Tensor[0],
                (g, s) -> new Tensor[] {g.sum(new int[] {d}, true).sub(g.cumsum(d)).add(g)});
    }

    static Tensor cumprod(Tensor x, int dim) {
        x.checkAlive("cumprod");
        if (x.shape.length == 0) return x.clone();
        int d = Shape.dim("cumprod", dim, x.shape.length);
        Tensor out = scan(x, d, true);
        int r = x.shape.length;
        return Autograd.record("cumprod", out, new Tensor[] {x}, new Tensor[] {x}, (g, s) -> {
            try (Scope sc = Scope.open()) {
                Tensor xl = s[0].transpose(d, r - 1).contiguous(), gl = g.transpose(d, r - 1).contiguous().to(xl.dtype);
                Tensor dx = Tensor.allocate(xl.dtype, xl.shape, xl.device());
                int n = xl.shape[r - 1];
                int rows = (int) (xl.numel() / Math.max(1, n));
                if (n > 0 && rows > 0) Backend.of(xl).cumprodBackward(xl, gl, rows, n, dx);
                return new Tensor[] {sc.keep(dx.transpose(d, r - 1).contiguous())};
            }
        });
    }
}
