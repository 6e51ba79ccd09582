package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Elementwise kernels over strided operands of one shape (broadcast operands carry stride 0).
 * F32 rows that are contiguous (or broadcast scalars) take the SIMD path; every other row takes a
 * scalar loop that computes in double for floating types and in long for integers.
 */
public final class Elementwise {
    private Elementwise() {}

    public static void unary(UnaryOp op, double a, double b, Operand x, Operand out, int[] shape) {
        CpuInfo.logOnce();
        StridedLoop.run(shape, new Operand[] {x, out}, (off, step, n) -> {
            if (CpuInfo.VECTOR && x.dtype() == DType.F32 && out.dtype() == DType.F32 && step[0] == 1 && step[1] == 1
                    && VectorElementwise.unary(op, (float) a, (float) b, x.seg(), off[0], out.seg(), off[1], n)) {
                return;
            }
            MemorySegment xs = x.seg(), os = out.seg();
            DType xt = x.dtype(), ot = out.dtype();
            long xi = off[0], oi = off[1];
            if (xt == DType.F32 && ot == DType.F32) {
                for (int i = 0; i < n; i++, xi += step[0], oi += step[1]) {
                    os.setAtIndex(Elements.F, oi, (float) op.apply(xs.getAtIndex(Elements.F, xi), a, b));
                }
                return;
            }
            for (int i = 0; i < n; i++, xi += step[0], oi += step[1]) {
                Elements.set(os, ot, oi, op.apply(Elements.get(xs, xt, xi), a, b));
            }
        });
    }

    /** {@code out = op(x, y)}; the caller has checked shapes and chosen {@code out}'s dtype. */
    public static void binary(BinaryOp op, Operand x, Operand y, Operand out, int[] shape) {
        CpuInfo.logOnce();
        DType xt = x.dtype(), yt = y.dtype(), ot = out.dtype();
        boolean integral = DType.promote(xt, yt).isIntegral() && op != BinaryOp.DIV && op != BinaryOp.POW;
        StridedLoop.run(shape, new Operand[] {x, y, out}, (off, step, n) -> {
            if (CpuInfo.VECTOR && xt == DType.F32 && yt == DType.F32 && ot == DType.F32 && step[2] == 1
                    && step[0] <= 1 && step[1] <= 1
                    && VectorElementwise.binary(op, x.seg(), off[0], step[0], y.seg(), off[1], step[1], out.seg(), off[2], n)) {
                return;
            }
            MemorySegment xs = x.seg(), ys = y.seg(), os = out.seg();
            long xi = off[0], yi = off[1], oi = off[2];
            long sx = step[0], sy = step[1], so = step[2];
            if (integral) {
                for (int i = 0; i < n; i++, xi += sx, yi += sy, oi += so) {
                    Elements.setLong(os, ot, oi, op.applyLong(Elements.getLong(xs, xt, xi), Elements.getLong(ys, yt, yi)));
                }
            } else if (xt == DType.F64 && yt == DType.F64 && ot == DType.F64) {
                for (int i = 0; i < n; i++, xi += sx, yi += sy, oi += so) {
                    os.setAtIndex(Elements.D, oi, op.apply(xs.getAtIndex(Elements.D, xi), ys.getAtIndex(Elements.D, yi)));
                }
            } else {
                for (int i = 0; i < n; i++, xi += sx, yi += sy, oi += so) {
                    Elements.set(os, ot, oi, op.apply(Elements.get(xs, xt, xi), Elements.get(ys, yt, yi)));
                }
            }
        });
    }

    /** {@code out = cond ? x : y}. */
    public static void where(Operand cond, Operand x, Operand y, Operand out, int[] shape) {
        DType ct = cond.dtype(), xt = x.dtype(), yt = y.dtype(), ot = out.dtype();
        StridedLoop.run(shape, new Operand[] {cond, x, y, out}, (off, step, n) -> {
            long ci = off[0], xi = off[1], yi = off[2], oi = off[3];
            for (int i = 0; i < n; i++, ci += step[0], xi += step[1], yi += step[2], oi += step[3]) {
                boolean c = Elements.getLong(cond.seg(), ct, ci) != 0;
                if (ot.isIntegral()) {
                    Elements.setLong(out.seg(), ot, oi, c ? Elements.getLong(x.seg(), xt, xi) : Elements.getLong(y.seg(), yt, yi));
                } else {
                    Elements.set(out.seg(), ot, oi, c ? Elements.get(x.seg(), xt, xi) : Elements.get(y.seg(), yt, yi));
                }
            }
        });
    }

    /** Copies with conversion: {@code out = (out.dtype) x}; integers travel exactly. */
    public static void copy(Operand x, Operand out, int[] shape) {
        DType xt = x.dtype(), ot = out.dtype();
        StridedLoop.run(shape, new Operand[] {x, out}, (off, step, n) -> {
            long xi = off[0], oi = off[1];
            if (xt == ot && step[0] == 1 && step[1] == 1) {
                long bs = xt.byteSize();
                MemorySegment.copy(x.seg(), xi * bs, out.seg(), oi * bs, n * bs);
                return;
            }
            if (xt.isIntegral() && ot.isIntegral()) {
                for (int i = 0; i < n; i++, xi += step[0], oi += step[1]) {
                    Elements.setLong(out.seg(), ot, oi, Elements.getLong(x.seg(), xt, xi));
                }
            } else if (xt == DType.F32 && ot == DType.BF16) { // storing weights in BF16: a typed loop, not a switch per element
                MemorySegment xs = x.seg(), os = out.seg();
                for (int i = 0; i < n; i++, xi += step[0], oi += step[1]) {
                    os.setAtIndex(ValueLayout.JAVA_SHORT, oi, Elements.floatToBf16(xs.getAtIndex(ValueLayout.JAVA_FLOAT, xi)));
                }
            } else if (xt == DType.BF16 && ot == DType.F32) {
                MemorySegment xs = x.seg(), os = out.seg();
                for (int i = 0; i < n; i++, xi += step[0], oi += step[1]) {
                    os.setAtIndex(ValueLayout.JAVA_FLOAT, oi, Elements.bf16ToFloat(xs.getAtIndex(ValueLayout.JAVA_SHORT, xi)));
                }
            } else {
                for (int i = 0; i < n; i++, xi += step[0], oi += step[1]) {
                    Elements.set(out.seg(), ot, oi, Elements.get(x.seg(), xt, xi));
                }
            }
        });
    }

    /** Fills every element of {@code out} with {@code v}. */
    public static void fill(Operand out, int[] shape, double v) {
        DType ot = out.dtype();
        StridedLoop.run(shape, new Operand[] {out}, (off, step, n) -> {
            long oi = off[0];
            if (v == 0 && step[0] == 1) { // +0.0 is all-zero bits in every dtype
                long bs = ot.byteSize();
                out.seg().asSlice(oi * bs, n * bs).fill((byte) 0);
                return;
            }
            for (int i = 0; i < n; i++, oi += step[0]) Elements.set(out.seg(), ot, oi, v);
        });
    }
}
