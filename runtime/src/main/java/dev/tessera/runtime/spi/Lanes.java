package dev.tessera.runtime.spi;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Deterministic horizontal sums. {@code reduceLanes(ADD)} leaves the order of the additions unspecified, and the
 * interpreter and the C2 intrinsic do use different orders, so a result could change in the last bit when a method
 * got compiled mid-run (breaking bit-identical resumes). These add the lanes in one fixed order in every tier.
 */
public final class Lanes {
    private Lanes() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** ROTATE[k] rotates lanes by 2^k: a fixed tree of lane-wise adds, each exactly defined in every tier. */
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] ROTATE = new VectorShuffle[Integer.numberOfTrailingZeros(S.length())];

    static {
        for (int k = 0; k < ROTATE.length; k++) ROTATE[k] = VectorShuffle.iota(S, 1 << k, 1, true);
    }

    /** Σ lanes as a fixed tree of lane-wise float adds (the same bits in the interpreter and in C2). */
    public static float sum(FloatVector v) {
        if (v.species() != S) return sumInOrder(v);
        for (int k = ROTATE.length - 1; k >= 0; k--) v = v.add(v.rearrange(ROTATE[k]));
        return v.lane(0);
    }

    private static float sumInOrder(FloatVector v) {
        float[] a = new float[v.length()];
        v.intoArray(a, 0);
        float s = 0;
        for (float x : a) s += x;
        return s;
    }

    /** Σ lanes, as {@link #sum} (float adds), widened to double. */
    public static double sumDouble(FloatVector v) { return sum(v); }
}
