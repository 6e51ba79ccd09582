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

    /**
     * The host allocator's books in a GPU's form: allocated (live tensors, in size classes), reserved (taken from the
     * system: allocated plus cached), peak allocated, and the counts of requests, cache hits, fresh allocations and
     * retries after emptying the cache.
     */
    public static DeviceMemoryStats cpuStats() { return CpuAllocator.stats(); }

    /**
     * The most host memory the CPU tensors may take from the system (cached blocks included) before an allocation
     * throws {@link DeviceOutOfMemoryException}: 90 % of the physical memory less the Java heap (at least half), or
     * {@code -Dtessera.hostMemoryLimit} (a size such as {@code 8g}, or a share such as {@code 75%}).
     */
    public static long cpuLimitBytes() { return HostMemoryLimit.bytes(); }

    /**
     * Starts (or stops, forgetting what it saw) recording where each tensor storage is allocated, on every device, so
     * that {@link #liveAllocationReport} can say where the ones still alive come from. {@code -Dtessera.trackAllocations=true}
     * starts it with the JVM. It costs a stack walk per allocation while on.
     */
    public static void trackAllocations(boolean on) { AllocationSites.track(on); }

    /**
     * The storages allocated while {@linkplain #trackAllocations tracking} that are still alive, grouped by the stack
     * that allocated them (12 frames), most bytes first: what a leak looks like from the inside.
     */
    public static String liveAllocationReport() { return AllocationSites.report(); }

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
