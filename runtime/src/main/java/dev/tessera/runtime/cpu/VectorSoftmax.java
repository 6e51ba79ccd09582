package dev.tessera.runtime.cpu;

import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** One F32 softmax row with SIMD: max, then exp and sum in one pass, then scale. */
final class VectorSoftmax {
    private VectorSoftmax() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    static void row(MemorySegment x, long xo, MemorySegment o, long oo, int n, boolean log) {
        int w = S.length(), vn = n - n % w;
        long xb = xo * 4, ob = oo * 4;
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < vn; i += w) mv = mv.max(FloatVector.fromMemorySegment(S, x, xb + i * 4L, NO));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (int i = vn; i < n; i++) max = Math.max(max, x.getAtIndex(Elements.F, xo + i));
        if (max == Float.NEGATIVE_INFINITY) {
            float fillValue = log ? Float.NEGATIVE_INFINITY : 0f;
            for (int i = 0; i < n; i++) o.setAtIndex(Elements.F, oo + i, fillValue);
            return;
        }
        FloatVector sv = FloatVector.zero(S);
        if (log) {
            for (int i = 0; i < vn; i += w) {
                sv = sv.add(VectorMath.exp(FloatVector.fromMemorySegment(S, x, xb + i * 4L, NO).sub(max)));
            }
        } else { // store the exponentials so the last pass only scales
            for (int i = 0; i < vn; i += w) {
                FloatVector ev = VectorMath.exp(FloatVector.fromMemorySegment(S, x, xb + i * 4L, NO).sub(max));
                ev.intoMemorySegment(o, ob + i * 4L, NO);
                sv = sv.add(ev);
            }
        }
        double sum = Lanes.sum(sv);
        for (int i = vn; i < n; i++) {
            float ev = (float) Math.exp(x.getAtIndex(Elements.F, xo + i) - max);
            if (!log) o.setAtIndex(Elements.F, oo + i, ev);
            sum += ev;
        }
        if (log) {
            float lse = (float) (max + Math.log(sum));
            for (int i = 0; i < vn; i += w) {
                FloatVector.fromMemorySegment(S, x, xb + i * 4L, NO).sub(lse).intoMemorySegment(o, ob + i * 4L, NO);
            }
            for (int i = vn; i < n; i++) o.setAtIndex(Elements.F, oo + i, x.getAtIndex(Elements.F, xo + i) - lse);
        } else {
            float inv = (float) (1 / sum);
            for (int i = 0; i < vn; i += w) {
                FloatVector.fromMemorySegment(S, o, ob + i * 4L, NO).mul(inv).intoMemorySegment(o, ob + i * 4L, NO);
            }
            for (int i = vn; i < n; i++) o.setAtIndex(Elements.F, oo + i, o.getAtIndex(Elements.F, oo + i) * inv);
        }
    }
}
