package dev.tessera.runtime;

import java.util.Locale;

/**
 * A snapshot of one device's caching allocator. {@code allocatedBytes} is held by live tensors (rounded to the
 * allocator's size classes), {@code reservedBytes} is what the allocator holds from the driver (allocated plus
 * cached), {@code peakAllocatedBytes} the high-water mark of allocated, {@code driverAllocations} the requests the cache
 * could not serve (memory fresh from the driver, or for the CPU from the C allocator).
 */
public record DeviceMemoryStats(long allocatedBytes, long reservedBytes, long peakAllocatedBytes, long allocations,
                                long cacheHits, long driverAllocations, long outOfMemoryRetries) {
    /** Bytes the allocator keeps for reuse. */
    public long cachedBytes() { return reservedBytes - allocatedBytes; }

    @Override public String toString() {
        return "allocated " + human(allocatedBytes) + ", reserved " + human(reservedBytes) + ", cached " + human(cachedBytes())
                + ", peak " + human(peakAllocatedBytes) + ", " + allocations + " allocations, " + cacheHits + " from cache, "
                + driverAllocations + " fresh, " + outOfMemoryRetries + " out-of-memory retries";
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        if (bytes < 1 << 20) return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        if (bytes < 1L << 30) return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
