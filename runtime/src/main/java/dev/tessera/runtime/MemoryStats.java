package dev.tessera.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Native-memory accounting: bytes of tensor storage alive now, the peak, and what the caching allocator holds.
 * The flat-memory tests read these instead of the process RSS.
 */
public final class MemoryStats {
    private static final AtomicLong CPU_LIVE = new AtomicLong();
    private static final AtomicLong CPU_PEAK = new AtomicLong();
    private static final AtomicLong CPU_ALLOCS = new AtomicLong();

    private MemoryStats() {}

    /** Bytes of CPU tensor storage currently allocated. */
    public static long cpuLiveBytes() { return CPU_LIVE.get(); }

    /** Highest value {@link #cpuLiveBytes()} has reached. */
    public static long cpuPeakBytes() { return CPU_PEAK.get(); }

    /** Bytes of freed host blocks the caching allocator keeps for reuse (not counted as live). */
    public static long cpuCachedBytes() { return CpuAllocator.cachedBytes(); }

    /** Returns every cached host block to the system. */
    public static void emptyCpuCache() { CpuAllocator.trim(0); }

    /** Number of CPU storage allocations made so far. */
    public static long cpuAllocations() { return CPU_ALLOCS.get(); }

    static void cpuAllocated(long bytes) {
        CPU_ALLOCS.incrementAndGet();
        long now = CPU_LIVE.addAndGet(bytes);
        CPU_PEAK.accumulateAndGet(now, Math::max);
    }

    static void cpuFreed(long bytes) { CPU_LIVE.addAndGet(-bytes); }
}
