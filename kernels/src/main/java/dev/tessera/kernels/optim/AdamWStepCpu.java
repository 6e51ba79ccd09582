package dev.tessera.kernels.optim;

import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast F32 AdamW step: Vector API lanes in F32 (scalar F32 without the jdk.incubator.vector module), parallel
 * over ranges on the runtime's pool. Lanes and the scalar tail make the same IEEE operations in the same order (no
 * fused multiply-add), so an element's result does not depend on where its range starts or on the JIT tier.
 */
final class AdamWStepCpu {
    private AdamWStepCpu() {}

    /** The step's constants in F32. */
    private record Constants(float b1, float k1, float b2, float k2, float keep, float c2, float eps, float step) {
        static Constants of(AdamWStep.Hyper h) {
            return new Constants((float) h.beta1(), (float) (1 - h.beta1()), (float) h.beta2(), (float) (1 - h.beta2()),
                    (float) (1 - h.lr() * h.weightDecay()), (float) h.c2(), (float) h.eps(), (float) (-h.lr() / h.c1()));
        }
    }

    static void step(MemorySegment w, long wOff, MemorySegment g, long gOff, MemorySegment m, long mOff, MemorySegment v, long vOff,
                     long n, AdamWStep.Hyper h) {
        Constants k = Constants.of(h);
        boolean simd = KernelSupport.vectorAvailable();
        KernelSupport.parallelFor(n, 16384, (s, e) -> {
            long i = simd ? Lanes.step(w, wOff, g, gOff, m, mOff, v, vOff, s, e, k) : s;
            for (; i < e; i++) {
                float gi = g.getAtIndex(ValueLayout.JAVA_FLOAT, gOff + i);
                float mi = m.getAtIndex(ValueLayout.JAVA_FLOAT, mOff + i) * k.b1() + gi * k.k1();
                float vi = v.getAtIndex(ValueLayout.JAVA_FLOAT, vOff + i) * k.b2() + gi * k.k2() * gi;
                float wi = w.getAtIndex(ValueLayout.JAVA_FLOAT, wOff + i) * k.keep();
                m.setAtIndex(ValueLayout.JAVA_FLOAT, mOff + i, mi);
                v.setAtIndex(ValueLayout.JAVA_FLOAT, vOff + i, vi);
                w.setAtIndex(ValueLayout.JAVA_FLOAT, wOff + i, wi + mi / ((float) Math.sqrt(vi / k.c2()) + k.eps()) * k.step());
            }
        });
    }

    /** The vector loop, in its own class so that nothing loads the Vector API where the module is absent. */
    private static final class Lanes {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        private static final ByteOrder NO = ByteOrder.nativeOrder();

        /** Updates whole vectors from s; returns where the scalar tail starts. */
        static long step(MemorySegment w, long wOff, MemorySegment g, long gOff, MemorySegment m, long mOff, MemorySegment v, long vOff,
                         long s, long e, Constants k) {
            int width = S.length();
            long i = s;
            for (; i + width <= e; i += width) {
                FloatVector gi = FloatVector.fromMemorySegment(S, g, (gOff + i) * 4, NO);
                FloatVector mi = FloatVector.fromMemorySegment(S, m, (mOff + i) * 4, NO).mul(k.b1()).add(gi.mul(k.k1()));
                FloatVector vi = FloatVector.fromMemorySegment(S, v, (vOff + i) * 4, NO).mul(k.b2()).add(gi.mul(k.k2()).mul(gi));
                FloatVector wi = FloatVector.fromMemorySegment(S, w, (wOff + i) * 4, NO).mul(k.keep());
                mi.intoMemorySegment(m, (mOff + i) * 4, NO);
                vi.intoMemorySegment(v, (vOff + i) * 4, NO);
                wi.add(mi.div(vi.div(k.c2()).sqrt().add(k.eps())).mul(k.step())).intoMemorySegment(w, (wOff + i) * 4, NO);
            }
            return i;
        }
    }
}
