package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused cross entropy over the rows of contiguous logits x [rows, c] with class indices t (validated by the caller):
 * loss[r] = lse_r − x[r, t_r] (0 where t_r is the ignore index) with lse_r = log Σ_j exp(x[r, j]) kept for the
 * backward, dx[r, j] = g[r]·(exp(x[r, j] − lse_r) − [j = t_r]) (0 on ignored rows). One pass for the maximum and one
 * for the exponentials forward, one pass backward: the composition it replaces wrote the log-softmax, gathered from
 * it, and backward scattered into a zeroed [rows, c] gradient before the log-softmax's own backward pass.
 * F32 rows use SIMD with {@link VectorMath#exp} and {@link Lanes#sum}, so their bits do not depend on the JIT tier;
 * other dtypes compute in double. loss and lse are in the accumulation dtype (F64 for F64 logits, else F32).
 */
public final class CrossEntropyKernel {
    private CrossEntropyKernel() {}

    public static void forward(Operand x, long[] t, int rows, int c, long ignore, Operand loss, Operand lse) {
        boolean simd = CpuInfo.VECTOR && x.dtype() == DType.F32;
        CpuPool.parallelFor(rows, Math.max(1, (1 << 14) / Math.max(1, c)), (s, e) -> {
            for (long r = s; r < e; r++) {
                long xo = x.offset() + r * c;
                double l = simd ? Simd.logSumExp(x.seg(), xo, c) : logSumExp(x.seg(), x.dtype(), xo, c);
                long tr = t[(int) r];
                Elements.set(lse.seg(), lse.dtype(), lse.offset() + r, l);
                double v = tr == ignore ? 0 : l - Elements.get(x.seg(), x.dtype(), xo + tr);
                Elements.set(loss.seg(), loss.dtype(), loss.offset() + r, v);
            }
        });
    }

    public static void backward(Operand x, long[] t, Operand lse, Operand g, int rows, int c, long ignore, Operand dx) {
        boolean simd = CpuInfo.VECTOR && x.dtype() == DType.F32 && dx.dtype() == DType.F32;
        CpuPool.parallelFor(rows, Math.max(1, (1 << 14) / Math.max(1, c)), (s, e) -> {
            for (long r = s; r < e; r++) {
                long xo = x.offset() + r * c, oo = dx.offset() + r * c;
                long tr = t[(int) r];
                if (tr == ignore) {
                    for (int j = 0; j < c; j++) Elements.set(dx.seg(), dx.dtype(), oo + j, 0);
                    continue;
                }
                double l = Elements.get(lse.seg(), lse.dtype(), lse.offset() + r);
                double gr = Elements.get(g.seg(), g.dtype(), g.offset() + r);
                if (simd) {
                    Simd.softmaxRow(x.seg(), xo, dx.seg(), oo, c, (float) l, (float) gr);
                    long at = oo + tr;
                    dx.seg().setAtIndex(Elements.F, at, dx.seg().getAtIndex(Elements.F, at) - (float) gr);
                } else {
                    for (int j = 0; j < c; j++) {
                        double p = Math.exp(Elements.get(x.seg(), x.dtype(), xo + j) - l);
                        Elements.set(dx.seg(), dx.dtype(), oo + j, gr * (p - (j == tr ? 1 : 0)));
                    }
                }
            }
        });
    }

    /** log Σ exp over one row in double, shifted by the row's maximum (a row of −inf or NaN is not shifted). */
    private static double logSumExp(MemorySegment x, DType dt, long xo, int c) {
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < c; j++) m = Math.max(m, Elements.get(x, dt, xo + j));
        double shift = Double.isFinite(m) ? m : 0, sum = 0;
        for (int j = 0; j < c; j++) sum += Math.exp(Elements.get(x, dt, xo + j) - shift);
        return Math.log(sum) + shift;
    }

    /** The F32 rows; in a nested class so that the Vector API is touched only when it is present. */
    private static final class Simd {
        static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        static final ByteOrder NO = ByteOrder.nativeOrder();

        static double logSumExp(MemorySegment x, long xo, int c) {
            int w = S.length(), vn = c - c % w;
            long xb = xo * 4;
            FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (int j = 0; j < vn; j += w) mv = mv.max(FloatVector.fromMemorySegment(S, x, xb + j * 4L, NO));
            float m = mv.reduceLanes(VectorOperators.MAX);
            for (int j = vn; j < c; j++) m = Math.max(m, x.getAtIndex(Elements.F, xo + j));
            float shift = Float.isFinite(m) ? m : 0f;
            FloatVector sv = FloatVector.zero(S);
            for (int j = 0; j < vn; j += w) sv = sv.add(VectorMath.exp(FloatVector.fromMemorySegment(S, x, xb + j * 4L, NO).sub(shift)));
            double sum = Lanes.sum(sv);
            for (int j = vn; j < c; j++) sum += VectorMath.exp(x.getAtIndex(Elements.F, xo + j) - shift);
            return (float) (Math.log(sum) + shift);
        }

        /** o[j] = g·exp(x[j] − lse) for one row. */
        static void softmaxRow(MemorySegment x, long xo, MemorySegment o, long oo, int c, float lse, float g) {
            int w = S.length(), vn = c - c % w;
            long xb = xo * 4, ob = oo * 4;
            for (int j = 0; j < vn; j += w) {
                VectorMath.exp(FloatVector.fromMemorySegment(S, x, xb + j * 4L, NO).sub(lse)).mul(g).intoMemorySegment(o, ob + j * 4L, NO);
            }
            for (int j = vn; j < c; j++) o.setAtIndex(Elements.F, oo + j, VectorMath.exp(x.getAtIndex(Elements.F, xo + j) - lse) * g);
        }
    }
}
