package dev.tessera.kernels.optim;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The readable float64 AdamW step: one element at a time, the formulas of {@link AdamWStep} as written. */
public final class AdamWStepReference {
    private AdamWStepReference() {}

    /** F64 w, g, m, v of n elements from the given element offsets. */
    public static void step(MemorySegment w, long wOff, MemorySegment g, long gOff, MemorySegment m, long mOff, MemorySegment v, long vOff,
                            long n, AdamWStep.Hyper h) {
        for (long i = 0; i < n; i++) {
            double gi = g.getAtIndex(ValueLayout.JAVA_DOUBLE, gOff + i);
            double mi = h.beta1() * m.getAtIndex(ValueLayout.JAVA_DOUBLE, mOff + i) + (1 - h.beta1()) * gi;
            double vi = h.beta2() * v.getAtIndex(ValueLayout.JAVA_DOUBLE, vOff + i) + (1 - h.beta2()) * gi * gi;
            double wi = w.getAtIndex(ValueLayout.JAVA_DOUBLE, wOff + i) * (1 - h.lr() * h.weightDecay());
            m.setAtIndex(ValueLayout.JAVA_DOUBLE, mOff + i, mi);
            v.setAtIndex(ValueLayout.JAVA_DOUBLE, vOff + i, vi);
            w.setAtIndex(ValueLayout.JAVA_DOUBLE, wOff + i, wi + mi / (Math.sqrt(vi / h.c2()) + h.eps()) * (-h.lr() / h.c1()));
        }
    }
}
