package dev.tessera.runtime;

import dev.tessera.runtime.cpu.BinaryOp;
import dev.tessera.runtime.cpu.UnaryOp;

/** Elementwise ops with broadcasting, and their gradients. */
final class Pointwise {
    private Pointwise() {}

    /** Computes op(x) into a new tensor of dtype {@code outType}, recording nothing. */
    static Tensor unaryRaw(UnaryOp op, double a, double b, Tensor x, DType outType) {
        Tensor out = Tensor.allocate(outType, x.shape, x.device());
        Backend.of(x).unary(op, a, b, x, out);
        return out;
    }

    static Tensor binaryRaw(BinaryOp op, Tensor x, Tensor y, int[] shape, DType outType) {
        Tensor out = Tensor.allocate(outType, shape, x.device());
        Backend.of(op.name().toLowerCase(java.util.Locale.ROOT), x, y).binary(op, x, y, out);
        return out;
    }

    static Tensor unary(String name, UnaryOp op, Tensor x) {
        x.checkAlive(name);
        if (op == UnaryOp.NEG && x.dtype.isIntegral() && x.dtype != DType.BOOL) {
            return Autograd.record(name, unaryRaw(op, 0, 0, x, x.dtype), new Tensor[] {x}, new Tensor[0], null);
        }
        boolean keepsInt = (op == UnaryOp.ABS || op == UnaryOp.SIGN || op == UnaryOp.RELU) && x.dtype.isIntegral();
        DType ot = keepsInt ? x.dtype : x.dtype.toFloating();
        Tensor y = unaryRaw(op, 0, 0, x, ot);
        boolean saveOutput = op == UnaryOp.EXP || op == UnaryOp.TANH || op == UnaryOp.SIGMOID || op == UnaryOp.SQRT || op == UnaryOp.RSQRT;
        Tensor[] saved = saveOutput ? new Tensor[] {x, y} : new Tensor[] {x};
        return Autograd.record(name, y, new Tensor[] {x}, saved, (g, s) -> new Tensor[] {unaryGrad(op, g, s[0], s.length > 1 ? s[1] : null)});
    }

    /** d op(x)/dx · g: the backend's fused kernel where it has one, else composed from tensor ops (any backend). */
    private static Tensor unaryGrad(UnaryOp op, Tensor g, Tensor x, Tensor y) {
        Backend backend = Backend.of(x);
        if (g.dtype == x.dtype && java.util.Arrays.equals(g.shape, x.shape) && backend.fusesUnaryBackward(op, x.dtype)) {
            Tensor dest = Autograd.destination(0); // the fused kernels write any strides
            Tensor dx = dest != null && dest.device().equals(x.device()) && dest.dtype == x.dtype ? dest
                    : Tensor.allocate(x.dtype, x.shape, x.device());
            backend.unaryBackward(op, x, y, g, dx);
            return dx;
        }
        return switch (op) {
            case NEG -> g.neg();
            case EXP -> g.mul(y);
            case LOG -> g.div(x);
            case LOG1P -> g.div(x.add(1));
            case SQRT -> g.div(y.mul(2));
            case RSQRT -> g.mul(y.pow(3)).mul(-0.5);
            case ABS -> g.mul(x.sign());
            case TANH -> g.mul(y.mul(y).neg().add(1));
            case SIGMOID -> g.mul(y.mul(y.neg().add(1)));
            case RELU -> g.mul(compareRaw(BinaryOp.GT, x, 0).to(g.dtype));
            case SILU -> {
                Tensor s = x.sigmoid();
                yield g.mul(s.mul(x.mul(s.neg().add(1)).add(1)));
            }
            case SOFTPLUS -> g.mul(x.sigmoid());
            case GELU_ERF -> {
                // d/dx x·Φ(x) = Φ(x) + x·φ(x)
                Tensor cdf = unaryRaw(UnaryOp.GELU_ERF, 0, 0, x, x.dtype).div(x); // Φ(x) except at 0
                Tensor phi = x.mul(x).mul(-0.5).exp().mul(1 / Math.sqrt(2 * Math.PI));
                Tensor safeCdf = where(compareRaw(BinaryOp.EQ, x, 0), Tensor.full(0.5, x.dtype, x.device()), cdf);
                yield g.mul(safeCdf.add(x.mul(phi)));
            }
            case GELU_TANH -> {
                double c = Math.sqrt(2 / Math.PI);
                Tensor inner = x.add(x.pow(3).mul(0.044715)).mul(c);
                Tensor t = inner.tanh();
                Tensor dInner = x.mul(x).mul(3 * 0.044715).add(1).mul(c);
                Tensor d = t.add(1).mul(0.5).add(x.mul(0.5).mul(t.mul(t).neg().add(1)).mul(dInner));
                yield g.mul(d);
            }
            case SIGN, NONFINITE -> g.mul(0);
            case POW_SCALAR, CLAMP, AFFINE -> throw new IllegalStateException("handled by its own op");
        };
    }

    private static Tensor compareRaw(BinaryOp op, Tensor x, double c) {
        return binaryRaw(op, x, Tensor.full(c, x.dtype, x.device()), x.shape, DType.BOOL);
    }

    static Tensor affine(Tensor x, double a, double b) {
        x.checkAlive("affine");
        DType ot = x.dtype.isFloating() ? x.dtype : (a == Math.rint(a) && b == Math.rint(b) ? x.dtype : DType.F32);
        if (ot == DType.BOOL) ot = DType.I64;
        Tensor y = unaryRaw(UnaryOp.AFFINE, a, b, x, ot);
        return Autograd.record(b == 0 ? "mul_scalar" : "add_scalar", y, new Tensor[] {x}, new Tensor[0],
                (g, s) -> new Tensor[] {a == 1 ? g : g.mul(a)});
    }

    static Tensor powScalar(Tensor x, double e) {
        x.checkAlive("pow");
        Tensor y = unaryRaw(UnaryOp.POW_SCALAR, e, 0, x, x.dtype.toFloating());
        return Autograd.record("pow_scalar", y, new Tensor[] {x}, new Tensor[] {x},
                // x^0 is constant: its gradient is 0 everywhere, also at x = 0 where 0·x^-1 would be NaN (as in PyTorch)
                (g, s) -> new Tensor[] {e == 0 ? g.mul(0) : g.mul(s[0].pow(e - 1)).mul(e)});
    }

    static Tensor clamp(Tensor x, double min, double max) {
        x.checkAlive("clamp");
        if (min > max) throw new IllegalArgumentException("clamp: min " + min + " > max " + max);
        Tensor y = unaryRaw(UnaryOp.CLAMP, min, max, x, x.dtype);
        return Autograd.record("clamp", y, new Tensor[] {x}, new Tensor[] {x}, (g, s) -> {
            Tensor inside = binaryRaw(BinaryOp.GE, s[0], Tensor.full(min, s[0].dtype, s[0].device()), s[0].shape, DType.BOOL)
                    .mul(binaryRaw(BinaryOp.LE, s[0], Tensor.full(max, s[0].dtype, s[0].device()), s[0].shape, DType.BOOL));
            return new Tensor[] {g.mul(inside.to(g.dtype))};
        });
    }

    static DType resultType(BinaryOp op, Tensor x, Tensor y) {
        DType t = DType.promote(x.dtype, y.dtype);
        if ((op == BinaryOp.DIV || op == BinaryOp.POW) && t.isIntegral()) return DType.F32;
        if (t == DType.BOOL && (op == BinaryOp.ADD || op == BinaryOp.SUB || op == BinaryOp.MUL)) return DType.I64;
        return t;
    }

    static Tensor binary(String name, BinaryOp op, Tensor x, Tensor y) {
        x.checkAlive(name);
        y.checkAlive(name);
        int[] shape = Shape.broadcast(name, x.shape, y.shape);
        Tensor out = binaryRaw(op, x, y, shape, resultType(op, x, y));
        int[] xs = x.shape, ys = y.shape;
        Tensor[] saved = switch (op) {
            case ADD, SUB -> new Tensor[0];
            case MUL, DIV, MAX, MIN -> new Tensor[] {x, y};
            case POW -> new Tensor[] {x, y, out};
            default -> throw new IllegalStateException(op + " is not differentiable");
        };
        return Autograd.record(name, out, new Tensor[] {x, y}, saved, (g, s) -> switch (op) {
            case ADD -> new Tensor[] {sumTo(g, xs), sumTo(g, ys)};
            case SUB -> new Tensor[] {sumTo(g, xs), sumTo(g.neg(), ys)};
            case MUL -> new Tensor[] {sumTo(g.mul(s[1]), xs), sumTo(g.mul(s[0]), ys)};
            case DIV -> new Tensor[] {sumTo(g.div(s[1]), xs), sumTo(g.mul(s[0]).div(s[1].mul(s[1])).neg(), ys)};
            case POW -> {
                // As in PyTorch: d/dx is 0 where y == 0 (x^0 is constant, 0·0^-1 would be NaN), and d/dy is 0 where
                // x == 0 and y >= 0 (0^y is constant there, 0·log 0 would be NaN).
                Tensor zero = Tensor.full(0, g.dtype, g.device());
                Tensor dx = g.mul(s[1]).mul(s[0].pow(s[1].sub(1))).where(s[1].ne(zero), zero);
                Tensor dyAll = g.mul(s[2]).mul(s[0].log());
                Tensor dy = dyAll.where(s[0].ne(zero), dyAll.where(s[1].lt(zero), zero));
                yield new Tensor[] {sumTo(dx, xs), sumTo(dy, ys)};
            }
            case MAX, MIN -> {
                // The gradient goes to the chosen operand; ties split it evenly, as in PyTorch.
                Tensor pick = binaryRaw(op == BinaryOp.MAX ? BinaryOp.GT : BinaryOp.LT, s[0], s[1], g.shape, DType.BOOL).to(g.dtype);
                Tensor tie = binaryRaw(BinaryOp.EQ, s[0], s[1], g.shape, DType.BOOL).to(g.dtype).mul(0.5);
                Tensor wx = pick.add(tie);
                yield new Tensor[] {sumTo(g.mul(wx), xs), sumTo(g.mul(wx.neg().add(1)), ys)};
            }
            default -> throw new IllegalStateException();
        });
    }

    static Tensor compare(String name, BinaryOp op, Tensor x, Tensor y) {
        x.checkAlive(name);
        y.checkAlive(name);
        int[] shape = Shape.broadcast(name, x.shape, y.shape);
        return binaryRaw(op, x, y, shape, DType.BOOL);
    }

    static Tensor where(Tensor cond, Tensor x, Tensor y) {
        cond.checkAlive("where");
        x.checkAlive("where");
        y.checkAlive("where");
        if (cond.dtype != DType.BOOL) throw new IllegalArgumentException("where: condition must be BOOL, got " + cond.dtype);
        int[] shape = Shape.broadcast("where", Shape.broadcast("where", cond.shape, x.shape), y.shape);
        DType ot = DType.promote(x.dtype, y.dtype);
        Tensor out = Tensor.allocate(ot, shape, x.device());
        Backend.of("where", cond, x, y).where(cond, x, y, out);
        int[] xs = x.shape, ys = y.shape;
        return Autograd.record("where", out, new Tensor[] {x, y}, new Tensor[] {cond}, (g, s) -> {
            Tensor zero = Tensor.full(0, g.dtype, g.device());
            return new Tensor[] {sumTo(where(s[0], g, zero), xs), sumTo(where(s[0], zero, g), ys)};
        });
    }

    /** Sums a broadcast gradient back down to {@code shape}. */
    static Tensor sumTo(Tensor g, int[] shape) {
        if (java.util.Arrays.equals(g.shape, shape)) return g;
        int lead = g.shape.length - shape.length;
        java.util.List<Integer> dims = new java.util.ArrayList<>();
        for (int i = 0; i < g.shape.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && g.shape[i] != 1)) dims.add(i);
        }
        Tensor s = g.sum(dims.stream().mapToInt(Integer::intValue).toArray(), true);
        return s.reshape(shape);
    }

    static void checkInPlace(String op, Tensor t) {
        t.checkAlive(op);
        if (Grad.isEnabled() && t.requiresGrad) {
            throw new IllegalStateException(op + ": in-place update of a tensor that requires grad; do it inside Grad.noGrad()");
        }
    }

    static Tensor inPlace(String name, BinaryOp op, Tensor t, Tensor o) {
        checkInPlace(name, t);
        o.checkAlive(name);
        int[] shape = Shape.broadcast(name, t.shape, o.shape);
        if (!java.util.Arrays.equals(shape, t.shape)) {
            throw new IllegalArgumentException(name + ": cannot broadcast " + Shape.str(o.shape) + " into " + Shape.str(t.shape) + " in place");
        }
        Backend.of(name, t, o).binary(op, t, o, t);
        return t;
    }

    static Tensor affineInPlace(Tensor t, double a, double b) {
        checkInPlace("affineInPlace", t);
        Backend.of(t).unary(UnaryOp.AFFINE, a, b, t, t);
        return t;
    }

    static Tensor copyInto(Tensor t, Tensor src) {
        checkInPlace("copyFrom", t);
        src.checkAlive("copyFrom");
        int[] shape = Shape.broadcast("copyFrom", t.shape, src.shape);
        if (!java.util.Arrays.equals(shape, t.shape)) {
            throw new IllegalArgumentException("copyFrom: cannot broadcast " + Shape.str(src.shape) + " into " + Shape.str(t.shape));
        }
        if (!src.device().equals(t.device())) {
            // Across devices the source moves first (no autograd: copyFrom is an in-place, no-grad write).
            try (Grad.Region g = Grad.noGrad(); Tensor moved = DeviceTransfer.copyAcross(src, t.device())) {
                Backend.of(t).copy(moved, t);
            }
            return t;
        }
        Backend.of("copyFrom", t, src).copy(src, t);
        return t;
    }
}
