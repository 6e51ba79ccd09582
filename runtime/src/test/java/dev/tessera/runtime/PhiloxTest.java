package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Philox 4x32-10 against the known-answer vectors of the Random123 distribution (kat_vectors), and the
 * reproducibility and distribution of the random tensors built on it.
 */
class PhiloxTest {
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() { scope.close(); }

    private static int[] philox(int c0, int c1, int c2, int c3, int k0, int k1) {
        int[] out = new int[4];
        Generator.philox(c0, c1, c2, c3, k0, k1, out);
        return out;
    }

    /** The round function written out from Salmon et al. (SC'11), as an independent oracle. */
    private static int[] reference(int[] ctr, int[] key) {
        long[] c = new long[4];
        for (int i = 0; i < 4; i++) c[i] = ctr[i] & 0xFFFFFFFFL;
        long k0 = key[0] & 0xFFFFFFFFL, k1 = key[1] & 0xFFFFFFFFL;
        for (int r = 0; r < 10; r++) {
            if (r > 0) {
                k0 = (k0 + 0x9E3779B9L) & 0xFFFFFFFFL;
                k1 = (k1 + 0xBB67AE85L) & 0xFFFFFFFFL;
            }
            long p0 = 0xD2511F53L * c[0], p1 = 0xCD9E8D57L * c[2];
            long hi0 = p0 >>> 32, lo0 = p0 & 0xFFFFFFFFL, hi1 = p1 >>> 32, lo1 = p1 & 0xFFFFFFFFL;
            c = new long[] {hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0};
        }
        return new int[] {(int) c[0], (int) c[1], (int) c[2], (int) c[3]};
    }

    @Test
    void knownAnswerVectors() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, philox(0, 0, 0, 0, 0, 0));
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, philox(-1, -1, -1, -1, -1, -1));
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
    }

    @Test
    void matchesTheReferenceRoundFunction() {
        int[] w = new int[4];
        java.util.SplittableRandom r = new java.util.SplittableRandom(11);
        for (int i = 0; i < 1000; i++) {
            int[] c = {r.nextInt(), r.nextInt(), r.nextInt(), r.nextInt()};
            int[] k = {r.nextInt(), r.nextInt()};
            Generator.philox(c[0], c[1], c[2], c[3], k[0], k[1], w);
            assertArrayEquals(reference(c, k), w);
        }
    }

    @Test
    void blockUsesTheOffsetAsCounterAndTheSeedAsKey() {
        long seed = 0x0123456789abcdefL, block = 0x0000000500000007L;
        int[] w = new int[4];
        new Generator(seed).block(block, w);
        assertArrayEquals(philox(7, 5, 0, 0, 0x89abcdef, 0x01234567), w);
    }

    @Test
    void sameSeedGivesTheSameValues() {
        Generator a = new Generator(1234), b = new Generator(1234);
        assertArrayEquals(Tensor.rand(a, 5, 7).toFloatArray(), Tensor.rand(b, 5, 7).toFloatArray());
        assertArrayEquals(Tensor.randn(a, 33).toFloatArray(), Tensor.randn(b, 33).toFloatArray());
        assertArrayEquals(Tensor.randint(a, -5, 9, 17).toLongArray(), Tensor.randint(b, -5, 9, 17).toLongArray());
        assertEquals(a.offset(), b.offset());
        assertFalse(java.util.Arrays.equals(Tensor.rand(new Generator(1), 16).toFloatArray(), Tensor.rand(new Generator(2), 16).toFloatArray()),
                "different seeds differ");
    }

    @Test
    void offsetsAdvanceByBlocksAndDifferentOffsetsDiffer() {
        Generator g = new Generator(9);
        assertEquals(0, g.offset());
        float[] first = Tensor.rand(g, 10).toFloatArray(); // 3 blocks of 4 floats
        assertEquals(3, g.offset());
        float[] second = Tensor.rand(g, 10).toFloatArray();
        assertEquals(6, g.offset());
        assertFalse(java.util.Arrays.equals(first, second));
        Tensor.randn(g, 5); // 2 blocks
        assertEquals(8, g.offset());
        Tensor.randint(g, 0, 10, 5); // 2 values per block: 3 blocks
        assertEquals(11, g.offset());
        Tensor.rand(g, 0);
        assertEquals(11, g.offset(), "an empty draw consumes nothing");
    }

    @Test
    void setOffsetReproduces() {
        Generator g = new Generator(77);
        Tensor.rand(g, 100);
        long saved = g.offset();
        float[] u = Tensor.rand(g, 50).toFloatArray();
        float[] n = Tensor.randn(g, 50).toFloatArray();
        long[] k = Tensor.randint(g, 3, 1000, 50).toLongArray();
        g.setOffset(saved);
        assertArrayEquals(u, Tensor.rand(g, 50).toFloatArray());
        assertArrayEquals(n, Tensor.randn(g, 50).toFloatArray());
        assertArrayEquals(k, Tensor.randint(g, 3, 1000, 50).toLongArray());
        Generator fresh = new Generator(77);
        fresh.setOffset(saved);
        assertArrayEquals(u, Tensor.rand(fresh, 50).toFloatArray(), "a new generator at the saved offset resumes exactly");
    }

    @Test
    void uniformIsInTheUnitIntervalWithMeanOneHalf() {
        float[] u = Tensor.rand(new Generator(3), 100_000).toFloatArray();
        double sum = 0;
        float min = 1, max = 0;
        for (float v : u) {
            assertTrue(v >= 0 && v < 1, "out of [0, 1): " + v);
            sum += v;
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertEquals(0.5, sum / u.length, 0.005);
        assertTrue(min < 1e-3 && max > 1 - 1e-3);
    }

    @Test
    void normalHasMeanZeroAndUnitStd() {
        float[] n = Tensor.randn(new Generator(4), 100_000).toFloatArray();
        double s = 0, s2 = 0;
        int beyond3 = 0;
        for (float v : n) {
            assertTrue(Float.isFinite(v));
            s += v;
            s2 += (double) v * v;
            if (Math.abs(v) > 3) beyond3++;
        }
        double mean = s / n.length, std = Math.sqrt(s2 / n.length - mean * mean);
        assertEquals(0, mean, 0.02);
        assertEquals(1, std, 0.02);
        assertEquals(0.0027 * n.length, beyond3, 0.0027 * n.length * 0.3, "tails of a normal");
    }

    @Test
    void randintStaysInRangeAndCoversIt() {
        long[] v = Tensor.randint(new Generator(5), -3, 4, 70_000).toLongArray();
        int[] counts = new int[7];
        for (long x : v) {
            assertTrue(x >= -3 && x < 4, "out of [-3, 4): " + x);
            counts[(int) (x + 3)]++;
        }
        for (int c : counts) assertEquals(10_000, c, 500);
        long[] wide = Tensor.randint(new Generator(6), Long.MIN_VALUE / 2, Long.MAX_VALUE / 2, 1000).toLongArray();
        for (long x : wide) assertTrue(x >= Long.MIN_VALUE / 2 && x < Long.MAX_VALUE / 2);
    }

    /** Large draws run on several threads; each element must still be a function of (seed, offset, index) alone. */
    @Test
    void resultsDoNotDependOnTheThreadCount() {
        int n = 200_003; // more than one parallel grain, not a multiple of 4
        Generator g = new Generator(0xfeedL);
        g.setOffset(1000);
        float[] u = Tensor.rand(g, n).toFloatArray();
        float[] z = Tensor.randn(g, n).toFloatArray();
        long[] k = Tensor.randint(g, 10, 1_000_003, n).toLongArray();

        Generator seq = new Generator(0xfeedL);
        int[] w = new int[4];
        long block = 1000;
        for (int j = 0; j < n; j += 4, block++) {
            seq.block(block, w);
            for (int l = 0; l < 4 && j + l < n; l++) assertEquals(Generator.uniform(w[l]), u[j + l], "rand element " + (j + l));
        }
        for (int j = 0; j < n; j += 4, block++) {
            seq.block(block, w);
            for (int pair = 0; pair < 2; pair++) {
                double r = Math.sqrt(-2 * Math.log(Generator.uniformOpenZero(w[2 * pair])));
                double theta = 2 * Math.PI * Generator.uniform(w[2 * pair + 1]);
                int e = j + 2 * pair;
                if (e < n) assertEquals((float) (r * Math.cos(theta)), z[e], "randn element " + e);
                if (e + 1 < n) assertEquals((float) (r * Math.sin(theta)), z[e + 1], "randn element " + (e + 1));
            }
        }
        for (int j = 0; j < n; j += 2, block++) {
            seq.block(block, w);
            for (int h = 0; h < 2 && j + h < n; h++) {
                long v = ((long) w[2 * h] << 32) | (w[2 * h + 1] & 0xFFFFFFFFL);
                assertEquals(10 + Long.remainderUnsigned(v, 1_000_003 - 10), k[j + h], "randint element " + (j + h));
            }
        }
        assertEquals(block, g.offset());
    }
}
