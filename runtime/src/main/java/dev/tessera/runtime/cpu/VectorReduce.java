package dev.tessera.runtime.cpu;

import dev.tessera.runtime.spi.Lanes;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** SIMD reductions of one contiguous F32 block; used by {@link RowReduce}. */
final class VectorReduce {
    private VectorReduce() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** Sum with float lanes; a block is short enough (16K) that lane-wise float accumulation stays accurate. */
    static double sum(MemorySegment m, long start, int len) {
        int w = S.length(), vn = len - len % (2 * w);
        FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S);
        long b = start * 4;
        for (int i = 0; i < vn; i += 2 * w) {
            a0 = a0.add(FloatVector.fromMemorySegment(S, m, b + i * 4L, NO));
            a1 = a1.add(FloatVector.fromMemorySegment(S, m, b + (i + w) * 4L, NO));
        }
        double s = Lanes.sumDouble(a0.add(a1));
        for (int i = vn; i < len; i++) s += m.getAtIndex(Elements.F, start + i);
        return s;
    }

    static double max(MemorySegment m, long start, int len) {
        int w = S.length(), vn = len - len % w;
        FloatVector a = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        long b = start * 4;
        for (int i = 0; i < vn; i += w) a = a.max(FloatVector.fromMemorySegment(S, m, b + i * 4L, NO));
        float r = a.reduceLanes(VectorOperators.MAX);
        for (int i = vn; i < len; i++) r = Math.max(r, m.getAtIndex(Elements.F, start + i));
        return r;
    }

    static double min(MemorySegment m, long start, int len) {
        int w = S.length(), vn = len - len % w;
        FloatVector a = FloatVector.broadcast(S, Float.POSITIVE_INFINITY);
        long b = start * 4;
        for (int i = 0; i < vn; i += w) a = a.min(FloatVector.fromMemorySegment(S, m, b + i * 4L, NO));
        float r = a.reduceLanes(VectorOperators.MIN);
        for (int i = vn; i < len; i++) r = Math.min(r, m.getAtIndex(Elements.F, start + i));
        return r;
    }
}
