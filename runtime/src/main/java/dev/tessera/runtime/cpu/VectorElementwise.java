package dev.tessera.runtime.cpu;

import static jdk.incubator.vector.VectorOperators.ABS;

import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD rows for F32. Each op has its own loop so that every vector operator is a JIT-time constant
 * (a non-constant operator is not intrinsified and runs tens of times slower).
 * Returns false for ops without a SIMD form; the caller then runs its scalar loop.
 * log, log1p and tanh have none on purpose: the Vector API's forms give different bits in C2 than in the
 * interpreter, and results must not depend on how warm the JIT is (exp goes through {@link VectorMath}).
 */
final class VectorElementwise {
    private VectorElementwise() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    static boolean unary(UnaryOp op, float a, float b, MemorySegment x, long xo, MemorySegment o, long oo, int n) {
        int w = S.length();
        int vn = n - n % w;
        long xb = xo * 4, ob = oo * 4;
        switch (op) {
            case NEG -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).neg().intoMemorySegment(o, ob + i * 4L, NO); }
            case ABS -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).lanewise(ABS).intoMemorySegment(o, ob + i * 4L, NO); }
            case EXP -> { for (int i = 0; i < vn; i += w) VectorMath.exp(ld(x, xb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
            case SQRT -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).sqrt().intoMemorySegment(o, ob + i * 4L, NO); }
            case RSQRT -> {
                for (int i = 0; i < vn; i += w) FloatVector.broadcast(S, 1f).div(ld(x, xb, i).sqrt()).intoMemorySegment(o, ob + i * 4L, NO);
            }
            case RELU -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).max(0f).intoMemorySegment(o, ob + i * 4L, NO); }
            case SIGMOID -> {
                for (int i = 0; i < vn; i += w) {
                    FloatVector v = ld(x, xb, i);
                    FloatVector.broadcast(S, 1f).div(VectorMath.exp(v.neg()).add(1f)).intoMemorySegment(o, ob + i * 4L, NO);
                }
            }
            case SILU -> {
                for (int i = 0; i < vn; i += w) {
                    FloatVector v = ld(x, xb, i);
                    v.div(VectorMath.exp(v.neg()).add(1f)).intoMemorySegment(o, ob + i * 4L, NO);
                }
            }
            case AFFINE -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).fma(a, b).intoMemorySegment(o, ob + i * 4L, NO); }
            case CLAMP -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).max(a).min(b).intoMemorySegment(o, ob + i * 4L, NO); }
            default -> { return false; }
        }
        for (int i = vn; i < n; i++) {
            o.setAtIndex(Elements.F, oo + i, (float) op.apply(x.getAtIndex(Elements.F, xo + i), a, b));
        }
        return true;
    }

    private static FloatVector ld(MemorySegment m, long byteBase, int i) {
        return FloatVector.fromMemorySegment(S, m, byteBase + i * 4L, NO);
    }

    /** Strides sx, sy are 1 (contiguous) or 0 (a broadcast scalar); the output is contiguous. */
    static boolean binary(BinaryOp op, MemorySegment x, long xo, long sx, MemorySegment y, long yo, long sy,
                          MemorySegment o, long oo, int n) {
        if (op.isComparison() || op == BinaryOp.POW) return false;
        if (sx == 0 && sy == 0) return false;
        int w = S.length();
        int vn = n - n % w;
        long xb = xo * 4, yb = yo * 4, ob = oo * 4;
        if (sx == 1 && sy == 1) {
            switch (op) {
                case ADD -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).add(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case SUB -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).sub(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case MUL -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).mul(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case DIV -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).div(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case MAX -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).max(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case MIN -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).min(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                default -> { return false; }
            }
        } else if (sx == 1) { // y is a scalar broadcast along the row
            float c = y.getAtIndex(Elements.F, yo);
            switch (op) {
                case ADD -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).add(c).intoMemorySegment(o, ob + i * 4L, NO); }
                case SUB -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).sub(c).intoMemorySegment(o, ob + i * 4L, NO); }
                case MUL -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).mul(c).intoMemorySegment(o, ob + i * 4L, NO); }
                case DIV -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).div(c).intoMemorySegment(o, ob + i * 4L, NO); }
                case MAX -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).max(c).intoMemorySegment(o, ob + i * 4L, NO); }
                case MIN -> { for (int i = 0; i < vn; i += w) ld(x, xb, i).min(c).intoMemorySegment(o, ob + i * 4L, NO); }
                default -> { return false; }
            }
        } else { // x is a scalar broadcast along the row
            FloatVector c = FloatVector.broadcast(S, x.getAtIndex(Elements.F, xo));
            switch (op) {
                case ADD -> { for (int i = 0; i < vn; i += w) c.add(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case SUB -> { for (int i = 0; i < vn; i += w) c.sub(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case MUL -> { for (int i = 0; i < vn; i += w) c.mul(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case DIV -> { for (int i = 0; i < vn; i += w) c.div(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case MAX -> { for (int i = 0; i < vn; i += w) c.max(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                case MIN -> { for (int i = 0; i < vn; i += w) c.min(ld(y, yb, i)).intoMemorySegment(o, ob + i * 4L, NO); }
                default -> { return false; }
            }
        }
        for (int i = vn; i < n; i++) {
            float xv = x.getAtIndex(Elements.F, xo + i * sx), yv = y.getAtIndex(Elements.F, yo + i * sy);
            o.setAtIndex(Elements.F, oo + i, (float) op.apply(xv, yv));
        }
        return true;
    }
}
