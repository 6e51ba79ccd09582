package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Gradients of the smooth activations in one pass: dx = g · op'(x). Composed from tensor ops, SiLU's gradient
 * g·σ(x)·(1 + x·(1 − σ(x))) takes seven passes over memory and six temporaries; training spends its time in such
 * gates (Mamba's SiLU and softplus, the sigmoid of routing), so the CPU backend fuses them.
 */
public final class UnaryGrad {
    private UnaryGrad() {}

    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** The ops with a fused gradient. */
    public static boolean supports(UnaryOp op) {
        return op == UnaryOp.SIGMOID || op == UnaryOp.TANH || op == UnaryOp.SILU || op == UnaryOp.SOFTPLUS;
    }

    /** op'(x), given x and y = op(x) (sigmoid and tanh use y, the others x). */
    static double derivative(UnaryOp op, double x, double y) {
        return switch (op) {
            case SIGMOID -> y * (1 - y);
            case TANH -> 1 - y * y;
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case SOFTPLUS -> 1 / (1 + Math.exp(-x));
            default -> throw new IllegalArgumentException("no fused gradient for " + op);
        };
    }

    /**
     * dx = g · op'(x) over operands viewed at {@code shape}; {@code y} is op(x) for sigmoid and tanh and may be any
     * operand of the shape (x itself) for the others. All four share one floating dtype.
     */
    public static void run(UnaryOp op, Operand x, Operand y, Operand g, Operand dx, int[] shape) {
        if (!supports(op)) throw new IllegalArgumentException("no fused gradient for " + op);
        DType t = dx.dtype();
        StridedLoop.run(shape, new Operand[] {x, y, g, dx}, (off, step, n) -> {
            int done = 0;
            if (CpuInfo.VECTOR && t == DType.F32 && step[0] == 1 && step[1] == 1 && step[2] == 1 && step[3] == 1) {
                done = Simd.rows(op, x.seg(), off[0], y.seg(), off[1], g.seg(), off[2], dx.seg(), off[3], n);
            }
            for (int i = done; i < n; i++) {
                double xv = Elements.get(x.seg(), t, off[0] + i * step[0]), yv = Elements.get(y.seg(), t, off[1] + i * step[1]);
                double gv = Elements.get(g.seg(), t, off[2] + i * step[2]);
                Elements.set(dx.seg(), t, off[3] + i * step[3], gv * derivative(op, xv, yv));
            }
        });
    }

    /** The F32 SIMD rows; in a nested class so that the Vector API is touched only when it is present. */
    private static final class Simd {
        static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

        /** Processes the whole vectors of a contiguous row; returns how many elements it did. */
        static int rows(UnaryOp op, MemorySegment x, long xo, MemorySegment y, long yo, MemorySegment g, long go,
                        MemorySegment dx, long oo, int n) {
            int w = S.length(), vn = n - n % w;
            long xb = xo * 4, yb = yo * 4, gb = go * 4, ob = oo * 4;
            FloatVector one = FloatVector.broadcast(S, 1f);
            switch (op) {
                case SIGMOID -> {
                    for (int i = 0; i < vn; i += w) {
                        FloatVector s = ld(y, yb, i);
                        ld(g, gb, i).mul(s.mul(one.sub(s))).intoMemorySegment(dx, ob + i * 4L, NO);
                    }
                }
                case TANH -> {
                    for (int i = 0; i < vn; i += w) {
                        FloatVector v = ld(y, yb, i);
                        ld(g, gb, i).mul(one.sub(v.mul(v))).intoMemorySegment(dx, ob + i * 4L, NO);
                    }
                }
                case SILU -> {
                    for (int i = 0; i < vn; i += w) {
                        FloatVector v = ld(x, xb, i);
                        FloatVector s = one.div(VectorMath.exp(v.neg()).add(1f));
                        ld(g, gb, i).mul(s.mul(v.mul(one.sub(s)).add(1f))).intoMemorySegment(dx, ob + i * 4L, NO);
                    }
                }
                case SOFTPLUS -> {
                    for (int i = 0; i < vn; i += w) {
                        FloatVector s = one.div(VectorMath.exp(ld(x, xb, i).neg()).add(1f));
                        ld(g, gb, i).mul(s).intoMemorySegment(dx, ob + i * 4L, NO);
                    }
                }
                default -> { return 0; }
            }
            return vn;
        }

        private static FloatVector ld(MemorySegment m, long byteBase, int i) {
            return FloatVector.fromMemorySegment(S, m, byteBase + i * 4L, NO);
        }
    }
}
