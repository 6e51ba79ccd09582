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
