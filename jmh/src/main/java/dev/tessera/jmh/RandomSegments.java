package dev.tessera.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Native float arrays of uniform values in [−1, 1) for the benchmarks that call OpenBLAS on raw memory. */
final class RandomSegments {
    private RandomSegments() {}

    /** {@code count} floats, 64-byte aligned, drawn from {@code seed}; freed with the arena. */
    static MemorySegment uniform(Arena arena, long count, long seed) {
        MemorySegment s = arena.allocate(count * Float.BYTES, 64);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < count; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
        return s;
    }
}
