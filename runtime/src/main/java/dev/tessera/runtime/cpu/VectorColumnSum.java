package dev.tessera.runtime.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** The F32 SIMD body of {@link ColumnSum}; loaded only when the vector module is present. */
final class VectorColumnSum {
    private VectorColumnSum() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** Columns [c0, c1) of x (element offset {@code xOff}) summed over all rows into out at {@code oOff}. */
    static void sumF32(MemorySegment x, long xOff, int rows, int cols, int c0, int c1, MemorySegment out, long oOff) {
        int w = S.length();
        int c = c0;
        for (; c + w <= c1; c += w) {
            FloatVector acc = FloatVector.zero(S);
            for (long r = 0; r < rows; r++) acc = acc.add(FloatVector.fromMemorySegment(S, x, (xOff + r * cols + c) * 4, NO));
            acc.intoMemorySegment(out, (oOff + c) * 4, NO);
        }
        for (; c < c1; c++) {
            float acc = 0;
            for (long r = 0; r < rows; r++) acc += x.getAtIndex(Elements.F, xOff + r * cols + c);
            out.setAtIndex(Elements.F, oOff + c, acc);
        }
    }
}
