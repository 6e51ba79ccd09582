package dev.tessera.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Checks {@link Gemm} against a naive triple loop in double, over shapes that hit every edge of the tiling. */
class GemmTest {
    private static final int[] SIZES = {1, 2, 5, 6, 7, 31, 32, 33, 64, 100, 257};
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;

    /** A logical matrix stored at an offset, row-major or transposed, in its own segment. */
    private record Mat(MemorySegment seg, long off, long rs, long cs) {}

    static Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(7);
        for (int m : SIZES) {
            for (int n : SIZES) {
                for (int k : SIZES) {
                    // Every shape once with a pseudo-random layout; the full layout cross product on a subset.
                    out.add(Arguments.of(m, n, k, r.nextBoolean(), r.nextBoolean(), r.nextBoolean()));
                }
            }
        }
        for (int s : new int[] {7, 33, 100}) {
            for (int bits = 0; bits < 8; bits++) {
                out.add(Arguments.of(s, s + 1, s - 1, (bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} aT={3} bT={4} acc={5}")
    @MethodSource("shapes")
    void sgemmMatchesNaive(int m, int n, int k, boolean aT, boolean bT, boolean acc) {
        sgemm(false, m, n, k, aT, bT, acc);
    }

    /** The scalar fallback, called directly since the active path is fixed when the JVM starts. */
    @ParameterizedTest(name = "m={0} n={1} k={2} aT={3} bT={4} acc={5}")
    @MethodSource("someShapes")
    void scalarSgemmMatchesNaive(int m, int n, int k, boolean aT, boolean bT, boolean acc) {
        sgemm(true, m, n, k, aT, bT, acc);
    }

    static Stream<Arguments> someShapes() {
        return shapes().filter(x -> ((Integer) x.get()[0] + (Integer) x.get()[1] + (Integer) x.get()[2]) % 5 == 0);
    }

    private void sgemm(boolean scalar, int m, int n, int k, boolean aT, boolean bT, boolean acc) {
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom r = new SplittableRandom(m * 1_000_003L + n * 1009L + k);
            Mat a = matrix(arena, m, k, aT, 3, r);
            Mat b = matrix(arena, k, n, bT, 5, r);
            long cOff = 2, cRs = n + 3;
            MemorySegment c = randomF32(arena, cOff + m * cRs, r);
            double[] expect = naive(1, m, n, k, a, 0, b, 0, c, cOff, 0, cRs, acc, false);
            float[] before = c.toArray(F);
            if (scalar) {
                GemmScalar.sgemm(m, n, k, a.seg, a.off, a.rs, a.cs, b.seg, b.off, b.rs, b.cs, c, cOff, cRs, acc, true);
            } else {
                Gemm.sgemm(m, n, k, a.seg, a.off, a.rs, a.cs, b.seg, b.off, b.rs, b.cs, c, cOff, cRs, acc);
            }
            check(expect, m, n, k, c, cOff, 0, cRs, 1, false);
            // Nothing outside the m×n window of C (row padding, the offset) may be written.
            for (long e = 0; e < before.length; e++) {
                long rel = e - cOff;
                boolean inside = rel >= 0 && rel / cRs < m && rel % cRs < n;
                if (!inside) assertEquals(before[(int) e], c.getAtIndex(F, e), "element " + e + " outside C changed");
            }
        }
    }

    @Test
    void kZeroZeroesOrKeeps() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment c = arena.allocate(4L * 12);
            c.fill((byte) 0x3f);
            float before = c.getAtIndex(F, 0);
            Gemm.sgemm(3, 4, 0, c, 0, 0, 0, c, 0, 0, 0, c, 0, 4, true);
            assertEquals(before, c.getAtIndex(F, 11));
            Gemm.sgemm(3, 4, 0, c, 0, 0, 0, c, 0, 0, 0, c, 0, 4, false);
            for (int i = 0; i < 12; i++) assertEquals(0f, c.getAtIndex(F, i));
        }
    }

    @Test
    void rejectsNegativeSizes() {
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(-1, 1, 1, null, 0, 0, 0, null, 0, 0, 0, null, 0, 0, false));
    }

    /** Large enough to take the multi-threaded path, both row- and column-split, with edge tiles. */
    @ParameterizedTest(name = "m={0} n={1} k={2}")
    @MethodSource("bigShapes")
    void bigSgemm(int m, int n, int k, boolean aT, boolean bT) {
        sgemm(false, m, n, k, aT, bT, true);
    }

    static Stream<Arguments> bigShapes() {
        return Stream.of(Arguments.of(301, 530, 700, false, false), Arguments.of(13, 2000, 1100, true, false),
                Arguments.of(1000, 45, 333, false, true), Arguments.of(64, 4200, 70, true, true),
                Arguments.of(1, 3000, 500, false, false), Arguments.of(2, 1100, 700, true, false));
    }

    /**
     * A small C over a long reduction (a weight gradient) is split over the reduction: part 0 into C, the others into
     * arrays of their own, added after. Ragged k and edge tiles, A or B transposed, accumulating or not.
     */
    @ParameterizedTest(name = "m={0} n={1} k={2} aT={3} bT={4} acc={5}")
    @MethodSource("longReductions")
    void aLongReductionIsSplitOverIt(int m, int n, int k, boolean aT, boolean bT, boolean acc) {
        org.junit.jupiter.api.Assumptions.assumeTrue(CpuInfo.VECTOR && CpuPool.threads() > 1, "needs the vector GEMM and two threads");
        assertTrue(GemmF32Vector.splitsReduction(m, n, k, CpuPool.threads()) && (long) m * n * k >= 2 * Gemm.MIN_FMAS_PER_TASK,
                "the shape takes the split (and is not too small to split at all)");
        sgemm(false, m, n, k, aT, bT, acc);
    }

    static Stream<Arguments> longReductions() {
        return Stream.of(Arguments.of(64, 296, 2048, true, false, false), Arguments.of(64, 64, 2048, true, false, true),
                Arguments.of(9, 40, 2100, true, true, false), Arguments.of(13, 100, 1025, false, false, true),
                Arguments.of(100, 31, 4099, true, true, true));
    }

    /**
     * Run from inside a pool task (every part on one thread, one after another) the split gives the same bits as from
     * the caller's thread (parts on both threads): the parts and the order they are added in depend only on the shape.
     */
    @Test
    void aSplitReductionGivesTheSameBitsOnOneThread() {
        org.junit.jupiter.api.Assumptions.assumeTrue(CpuInfo.VECTOR && CpuPool.threads() > 1, "needs the vector GEMM and two threads");
        int m = 64, n = 296, k = 2048;
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom r = new SplittableRandom(5);
            Mat a = matrix(arena, m, k, true, 3, r), b = matrix(arena, k, n, false, 5, r);
            MemorySegment parallel = arena.allocate(4L * m * n), nested0 = arena.allocate(4L * m * n), nested1 = arena.allocate(4L * m * n);
            Gemm.sgemm(m, n, k, a.seg, a.off, a.rs, a.cs, b.seg, b.off, b.rs, b.cs, parallel, 0, n, false);
            MemorySegment[] outs = {nested0, nested1};
            CpuPool.parallelFor(2, 1, (s, e) -> {
                for (long i = s; i < e; i++) Gemm.sgemm(m, n, k, a.seg, a.off, a.rs, a.cs, b.seg, b.off, b.rs, b.cs, outs[(int) i], 0, n, false);
            });
            for (MemorySegment o : outs) {
                for (long i = 0; i < (long) m * n; i++) assertEquals(parallel.getAtIndex(F, i), o.getAtIndex(F, i), "element " + i);
            }
        }
    }

    static Stream<Arguments> batches() {
        return Stream.of(Arguments.of(1, 7, 33, 31), Arguments.of(2, 100, 64, 257), Arguments.of(3, 64, 64, 64),
                Arguments.of(5, 33, 7, 100), Arguments.of(4, 2, 257, 5), Arguments.of(8, 31, 32, 6));
    }

    @ParameterizedTest(name = "batch={0} m={1} n={2} k={3}")
    @MethodSource("batches")
    void sgemmBatchedBroadcastsB(int batch, int m, int n, int k) {
        for (boolean aT : new boolean[] {false, true}) {
            for (boolean acc : new boolean[] {false, true}) {
                batched(false, batch, m, n, k, aT, acc);
            }
        }
    }

    @ParameterizedTest(name = "batch={0} m={1} n={2} k={3}")
    @MethodSource("batches")
    void dgemmBatchedBroadcastsB(int batch, int m, int n, int k) {
        for (boolean aT : new boolean[] {false, true}) {
            for (boolean acc : new boolean[] {false, true}) {
                batched(true, batch, m, n, k, aT, acc);
            }
        }
    }

    /** A per batch (row-major or transposed), one B shared by the whole batch (batch stride 0). */
    private void batched(boolean f64, int batch, int m, int n, int k, boolean aT, boolean acc) {
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom r = new SplittableRandom(batch * 31L + m + n * 7L + k * 13L);
            long aOff = 4, aBs = (long) m * k + 3;
            long aRs = aT ? 1 : k, aCs = aT ? m : 1;
            MemorySegment a = random(arena, aOff + batch * aBs, r, f64);
            long bOff = 1, bRs = n, bCs = 1;
            MemorySegment b = random(arena, bOff + (long) k * n, r, f64);
            long cOff = 3, cRs = n + 1, cBs = m * cRs + 5;
            MemorySegment c = random(arena, cOff + batch * cBs, r, f64);
            Mat am = new Mat(a, aOff, aRs, aCs), bm = new Mat(b, bOff, bRs, bCs);
            double[] expect = naive(batch, m, n, k, am, aBs, bm, 0, c, cOff, cBs, cRs, acc, f64);
            if (f64) {
                Gemm.dgemmBatched(batch, m, n, k, a, aOff, aBs, aRs, aCs, b, bOff, 0, bRs, bCs, c, cOff, cBs, cRs, acc);
            } else {
                Gemm.sgemmBatched(batch, m, n, k, a, aOff, aBs, aRs, aCs, b, bOff, 0, bRs, bCs, c, cOff, cBs, cRs, acc);
            }
            check(expect, m, n, k, c, cOff, cBs, cRs, batch, f64);
        }
    }

    private static Mat matrix(Arena arena, int rows, int cols, boolean transposed, long off, SplittableRandom r) {
        // Transposed: stored column-major with a padded leading dimension, as a view of a larger matrix would be.
        long ld = (transposed ? rows : cols) + 2;
        long rs = transposed ? 1 : ld, cs = transposed ? ld : 1;
        long size = off + (transposed ? cols : rows) * ld;
        return new Mat(randomF32(arena, size, r), off, rs, cs);
    }

    private static MemorySegment randomF32(Arena arena, long n, SplittableRandom r) {
        return random(arena, n, r, false);
    }

    private static MemorySegment random(Arena arena, long n, SplittableRandom r, boolean f64) {
        MemorySegment s = arena.allocate(Math.max(1, n) * (f64 ? 8 : 4), 64);
        for (long i = 0; i < n; i++) {
            double v = r.nextDouble(-1, 1);
            if (f64) s.setAtIndex(D, i, v);
            else s.setAtIndex(F, i, (float) v);
        }
        return s;
    }

    private static double get(MemorySegment s, long i, boolean f64) {
        return f64 ? s.getAtIndex(D, i) : s.getAtIndex(F, i);
    }

    private static double[] naive(int batch, int m, int n, int k, Mat a, long aBs, Mat b, long bBs,
            MemorySegment c, long cOff, long cBs, long cRs, boolean acc, boolean f64) {
        double[] out = new double[batch * m * n];
        for (int bi = 0; bi < batch; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = acc ? get(c, cOff + bi * cBs + i * cRs + j, f64) : 0;
                    for (int p = 0; p < k; p++) {
                        s += get(a.seg, a.off + bi * aBs + i * a.rs + p * a.cs, f64)
                                * get(b.seg, b.off + bi * bBs + p * b.rs + j * b.cs, f64);
                    }
                    out[(bi * m + i) * n + j] = s;
                }
            }
        }
        return out;
    }

    private static void check(double[] expect, int m, int n, int k, MemorySegment c, long cOff, long cBs, long cRs,
            int batch, boolean f64) {
        // Inputs are in [-1, 1], so |C| and the summation error both scale like sqrt(k).
        double tol = (f64 ? 1e-12 : 1e-4) * Math.sqrt(k + 1.0) * 2;
        for (int bi = 0; bi < batch; bi++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double want = expect[(bi * m + i) * n + j];
                    double got = get(c, cOff + bi * cBs + i * cRs + j, f64);
                    if (!(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)))) {
                        fail("batch " + bi + " C[" + i + "," + j + "] = " + got + ", expected " + want
                                + " (m=" + m + " n=" + n + " k=" + k + ")");
                    }
                }
            }
        }
    }
}
