package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuAllocatorTest {
    /** Sizes no other test uses, so blocks cached by other tests do not interfere (the allocator is global). */
    private static final long A = 3 * 1024 * 1024 + 17, B = 5 * 1024 * 1024 + 17, C = 7 * 1024 * 1024 + 17;

    @Test
    void aReleasedBlockIsReusedAndTheBookkeepingDoesNotGrowWithReuse() {
        CpuAllocator.Block first = CpuAllocator.acquire(A);
        CpuAllocator.release(first);
        long blocks = CpuAllocator.cachedBlocks(), bytes = CpuAllocator.cachedBytes();
        for (int i = 0; i < 100_000; i++) {
            CpuAllocator.Block b = CpuAllocator.acquire(A);
            assertSame(first, b, "the cached block of the same size class is handed out again");
            CpuAllocator.release(b);
        }
        assertEquals(blocks, CpuAllocator.cachedBlocks());
        assertEquals(bytes, CpuAllocator.cachedBytes());
        CpuAllocator.Block again = CpuAllocator.acquire(A);
        assertSame(first, again);
        assertEquals(blocks - 1, CpuAllocator.cachedBlocks());
        CpuAllocator.release(again);
        assertThrows(IllegalStateException.class, () -> CpuAllocator.release(again), "double release is caught");
    }

    /**
     * Above 64 KiB four classes per power of two: the activations of chunked sequences, whose length changes every
     * step, then share a few classes instead of each length keeping blocks of its own until the cache limit (hnet-tiny
     * cached 1.6 GB after 300 steps with 512-byte classes up to 1 MiB, 0.45 GB with these, from step 50 on).
     */
    @Test
    void sizeClassesBoundTheSlackAndTheirNumber() {
        assertEquals(64, CpuAllocator.sizeClass(0));
        assertEquals(512, CpuAllocator.sizeClass(1));
        assertEquals(64 << 10, CpuAllocator.sizeClass(64 << 10));
        assertEquals(80 << 10, CpuAllocator.sizeClass((64 << 10) + 1));
        assertEquals(1 << 20, CpuAllocator.sizeClass(1 << 20));
        assertEquals(5 << 18, CpuAllocator.sizeClass((1 << 20) + 1));
        java.util.Set<Long> classes = new java.util.HashSet<>();
        for (long bytes = 1; bytes <= (16L << 20); bytes += 97) {
            long c = CpuAllocator.sizeClass(bytes);
            assertTrue(c >= bytes && c <= Math.max(bytes + 511, bytes * 5 / 4 + 1), bytes + " → " + c);
            if (bytes > (64 << 10)) classes.add(c);
        }
        assertEquals(4 * 8, classes.size(), "four classes per power of two from 64 KiB to 16 MiB");
    }

    /** The bins' array index: one per class, increasing with the class, inside the array for any size up to 2⁶² bytes. */
    @Test
    void everySizeClassHasItsOwnBin() {
        long previousClass = -1;
        int previousIndex = -1;
        java.util.List<Long> sizes = new java.util.ArrayList<>(java.util.List.of(0L, 1L, 511L, 512L, 513L));
        for (long bytes = 1000; bytes < (1L << 62); bytes += bytes / 7 + 1) sizes.add(bytes);
        sizes.add(1L << 62);
        for (long bytes : sizes) {
            long c = CpuAllocator.sizeClass(bytes);
            int i = CpuAllocator.classIndex(c);
            assertTrue(i >= 0 && i < CpuAllocator.CLASS_COUNT, bytes + " → class " + c + " → index " + i);
            if (c == previousClass) assertEquals(previousIndex, i, "class " + c);
            else assertTrue(c > previousClass && i > previousIndex, "class " + c + " → " + i + " after " + previousClass + " → " + previousIndex);
            previousClass = c;
            previousIndex = i;
        }
    }

    @Test
    void trimmingFreesTheOldestReleasesFirstAndForgetsThem() {
        CpuAllocator.trim(0);
        assertEquals(0, CpuAllocator.cachedBlocks());
        CpuAllocator.Block a = CpuAllocator.acquire(A), b = CpuAllocator.acquire(B), c = CpuAllocator.acquire(C);
        CpuAllocator.release(a);
        CpuAllocator.release(b);
        CpuAllocator.release(c);
        assertEquals(3, CpuAllocator.cachedBlocks());
        CpuAllocator.Block reused = CpuAllocator.acquire(A); // a leaves the eviction order, then comes back last
        assertSame(a, reused);
        CpuAllocator.release(reused);
        // keep only as many bytes as the two newest releases (c, then a): b, the oldest, is freed
        CpuAllocator.trim(c.classBytes + a.classBytes);
        assertEquals(2, CpuAllocator.cachedBlocks());
        assertEquals(c.classBytes + a.classBytes, CpuAllocator.cachedBytes());
        CpuAllocator.Block freshB = CpuAllocator.acquire(B);
        assertNotSame(b, freshB, "an evicted block is never handed out again");
        assertSame(c, CpuAllocator.acquire(C));
        assertSame(a, CpuAllocator.acquire(A));
        assertEquals(0, CpuAllocator.cachedBlocks());
        for (CpuAllocator.Block x : new CpuAllocator.Block[] {freshB, c, a}) CpuAllocator.release(x);
        CpuAllocator.trim(0);
        assertTrue(CpuAllocator.cachedBytes() == 0 && CpuAllocator.cachedBlocks() == 0);
    }
}
