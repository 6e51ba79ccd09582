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
    /**
     * Rotations of the lanes by 8, 4, 2 and 1: a fixed tree of lane-wise adds, each exactly defined in every tier. Each
     * is a constant of its own: taken from an array (not a constant to C2) the rearrangement was not intrinsified and
     * every sum allocated its vectors on the heap — half of the bytes a training step allocated.
     */
    private static final VectorShuffle<Float> ROTATE_8 = rotation(8), ROTATE_4 = rotation(4), ROTATE_2 = rotation(2), ROTATE_1 = rotation(1);

    private static VectorShuffle<Float> rotation(int by) { return by < S.length() ? VectorShuffle.iota(S, by, 1, true) : null; }

    /** Σ lanes as a fixed tree of lane-wise float adds (the same bits in the interpreter and in C2). */
    public static float sum(FloatVector v) {
        if (v.species() != S || S.length() > 16) return sumInOrder(v);
        if (S.length() == 16) v = v.add(v.rearrange(ROTATE_8));
        if (S.length() >= 8) v = v.add(v.rearrange(ROTATE_4));
        if (S.length() >= 4) v = v.add(v.rearrange(ROTATE_2));
        if (S.length() >= 2) v = v.add(v.rearrange(ROTATE_1));
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
