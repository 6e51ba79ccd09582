package dev.tessera.runtime;

/**
 * A seeded counter-based random generator: Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC 2011) keyed by the seed, with a 64-bit counter of 128-bit blocks. Each draw reserves
 * blocks starting at the current offset, so the numbers depend only on (seed, offset, index) and are the
 * same on every device and for any number of threads. Save {@link #offset()} to resume exactly.
 */
public final class Generator {
    private static final Generator GLOBAL = new Generator(0x7e55e4aL);

    private final long seed;
    private long offset; // in 128-bit blocks

    public Generator(long seed) { this.seed = seed; }

    /** The process-wide default generator. */
    public static Generator global() { return GLOBAL; }

    public long seed() { return seed; }

    /** Blocks consumed so far. */
    public synchronized long offset() { return offset; }

    /** Moves to a saved offset (for resuming). */
    public synchronized void setOffset(long blocks) {
        if (blocks < 0) throw new IllegalArgumentException("generator offset must be >= 0, got " + blocks);
        offset = blocks;
    }

    /** Reserves {@code blocks} blocks and returns the first. */
    synchronized long reserve(long blocks) {
        long start = offset;
        offset += blocks;
        return start;
    }

    static final int M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /** Philox 4x32-10 of counter (c0..c3) under key (k0, k1); writes 4 words into {@code out}. */
    static void philox(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < 10; round++) {
            long p0 = (M0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long p1 = (M1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0, hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /** The four words of block {@code block} under this generator's key. */
    void block(long block, int[] out) {
        philox((int) block, (int) (block >>> 32), 0, 0, (int) seed, (int) (seed >>> 32), out);
    }

    /** A uniform float in [0, 1) from the top 24 bits of a word. */
    static float uniform(int word) { return (word >>> 8) * 0x1.0p-24f; }

    /** A uniform float in (0, 1] from a word (safe for a logarithm). */
    static float uniformOpenZero(int word) { return ((word >>> 8) + 1) * 0x1.0p-24f; }
}
