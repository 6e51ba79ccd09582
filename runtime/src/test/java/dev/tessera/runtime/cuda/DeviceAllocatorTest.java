package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.tessera.runtime.DeviceMemoryStats;
import dev.tessera.runtime.DeviceOutOfMemoryException;

/** The caching allocator's bookkeeping, over a fake device with a fixed capacity. */
class DeviceAllocatorTest {
    /** A device of {@code capacity} bytes that hands out increasing addresses and remembers what is live. */
    static final class FakeMemory implements DeviceMemory {
        final long capacity;
        final Map<Long, Long> live = new HashMap<>();
        long used, next = 0x1000_0000L, driverCalls, frees;

        FakeMemory(long capacity) { this.capacity = capacity; }

        @Override public long allocate(long bytes) {
            driverCalls++;
            if (used + bytes > capacity) return 0;
            long a = next;
            next += bytes + 4096;
            live.put(a, bytes);
            used += bytes;
            return a;
        }

        @Override public void free(long address) {
            Long b = live.remove(address);
            if (b == null) throw new AssertionError("double free of " + Long.toHexString(address));
            used -= b;
            frees++;
        }

        @Override public String lastError() { return "CUDA_ERROR_OUT_OF_MEMORY (2)"; }
    }

    @Test
    void sizeClassesRoundSmallTo512AndLargeTo2MiB() {
        assertEquals(512, DeviceAllocator.sizeClass(0));
        assertEquals(512, DeviceAllocator.sizeClass(1));
        assertEquals(512, DeviceAllocator.sizeClass(512));
        assertEquals(1024, DeviceAllocator.sizeClass(513));
        assertEquals(64 << 10, DeviceAllocator.sizeClass(64 << 10));
        assertEquals(80 << 10, DeviceAllocator.sizeClass((64 << 10) + 1)); // four classes per power of two above 64 KiB
        assertEquals(896 << 10, DeviceAllocator.sizeClass((768 << 10) + 1));
        assertEquals(1 << 20, DeviceAllocator.sizeClass(1 << 20));
        assertEquals(2 << 20, DeviceAllocator.sizeClass((1 << 20) + 1));
        assertEquals(4 << 20, DeviceAllocator.sizeClass((2 << 20) + 1));
    }

    /** Activations of chunked sequences: [8, M, 96] F32 for M between 50 and 80 chunks, one length after another. */
    @Test
    void lengthsThatChangeEveryStepShareAFewClasses() {
        FakeMemory mem = new FakeMemory(1L << 30);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        for (int step = 0; step < 200; step++) {
            int m = 50 + (step * 7) % 31;
            a.free(a.allocate(8L * m * 96 * 4));
        }
        // 150–240 KiB fall in four classes (160, 192, 224, 256 KiB); with 512-byte classes each length took its own
        assertEquals(4, mem.driverCalls, "31 lengths, driver allocations");
    }

    @Test
    void freedBlocksAreReusedWithoutTheDriver() {
        FakeMemory mem = new FakeMemory(1L << 30);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        DeviceAllocator.Block b1 = a.allocate(1000);
        a.free(b1);
        DeviceAllocator.Block b2 = a.allocate(700); // same 1024-byte class
        assertEquals(b1.address(), b2.address());
        assertEquals(1, mem.driverCalls);
        DeviceMemoryStats s = a.stats();
        assertEquals(1024, s.allocatedBytes());
        assertEquals(1024, s.reservedBytes());
        assertEquals(2, s.allocations());
        assertEquals(1, s.cacheHits());
        DeviceAllocator.Block b3 = a.allocate(700);
        assertNotEquals(b2.address(), b3.address());
        assertEquals(2048, a.stats().peakAllocatedBytes());
    }

    @Test
    void largeBlocksAreBestFitWithBoundedWaste() {
        FakeMemory mem = new FakeMemory(1L << 32);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        DeviceAllocator.Block big = a.allocate(10L << 20);   // 10 MiB class
        DeviceAllocator.Block huge = a.allocate(64L << 20);  // 64 MiB class
        a.free(big);
        a.free(huge);
        // 9 MiB fits the cached 10 MiB block (waste < 1/4); 20 MiB must not take the 64 MiB one.
        assertEquals(big.address(), a.allocate(9L << 20).address());
        DeviceAllocator.Block twenty = a.allocate(20L << 20);
        assertNotEquals(huge.address(), twenty.address());
        assertEquals(3, mem.driverCalls);
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndRetriesOnce() {
        FakeMemory mem = new FakeMemory(8L << 20);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        DeviceAllocator.Block b = a.allocate(6L << 20);
        a.free(b); // cached, still reserved from the driver
        assertEquals(6L << 20, a.stats().cachedBytes());
        DeviceAllocator.Block c = a.allocate(4L << 20); // a different class: needs the driver, which is full until the cache is freed
        assertEquals(4L << 20, c.size());
        DeviceMemoryStats s = a.stats();
        assertEquals(1, s.outOfMemoryRetries());
        assertEquals(0, s.cachedBytes());
        assertEquals(1, mem.frees);
    }

    @Test
    void outOfMemoryAfterRetryThrowsWithTheStatistics() {
        FakeMemory mem = new FakeMemory(8L << 20);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        a.allocate(6L << 20);
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> a.allocate(4L << 20));
        assertEquals("fake:0", e.device());
        assertEquals(4L << 20, e.requestedBytes());
        assertEquals(6L << 20, e.stats().allocatedBytes());
        assertTrue(e.getMessage().contains("fake:0: out of memory allocating 4.0 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("allocated 6.0 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
        // Nothing leaked: the failed request left the books as they were.
        assertEquals(6L << 20, a.stats().reservedBytes());
    }

    @Test
    void emptyCacheReturnsEveryCachedBlock() {
        FakeMemory mem = new FakeMemory(1L << 30);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        for (int i = 0; i < 10; i++) a.free(a.allocate(1000L * (i + 1)));
        a.emptyCache();
        assertEquals(0, mem.used);
        assertEquals(0, a.stats().reservedBytes());
        assertEquals(0, a.stats().allocatedBytes());
    }

    @Test
    void aLongLoopHoldsFlatReservedMemory() {
        FakeMemory mem = new FakeMemory(1L << 30);
        DeviceAllocator a = new DeviceAllocator(mem, "fake:0");
        long reservedAfterWarmup = 0;
        for (int step = 0; step < 1000; step++) {
            DeviceAllocator.Block x = a.allocate(3000), y = a.allocate(5L << 20), z = a.allocate(700);
            a.free(y);
            a.free(x);
            a.free(z);
            if (step == 0) reservedAfterWarmup = a.stats().reservedBytes();
        }
        assertEquals(reservedAfterWarmup, a.stats().reservedBytes());
        assertEquals(3, mem.driverCalls);
    }
}
