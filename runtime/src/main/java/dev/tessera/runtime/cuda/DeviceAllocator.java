package dev.tessera.runtime.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

import dev.tessera.runtime.DeviceMemoryStats;
import dev.tessera.runtime.DeviceOutOfMemoryException;

/**
 * A caching allocator for one device. {@code cuMemAlloc} synchronises the device and costs far more than a
 * kernel, so freed blocks stay here for reuse instead of going back to the driver.
 *
 * <p>Size classes: requests up to 64 KiB round up to 512 bytes, up to 1 MiB to one of four classes per power of two
 * (at most a quarter of slack), and reuse exactly that class; larger ones round up to 2 MiB and take the smallest
 * cached block that wastes at most a quarter of it. The coarse classes matter for chunked sequences, whose length
 * changes every step: with 512-byte classes up to 1 MiB each length needed blocks of its own, each a
 * {@code cuMemAlloc}. Blocks come back when their
 * storage's last reference is released (a closed {@code Scope}). Reuse is safe without events because every
 * kernel of a device runs on its one stream, in order. When the driver reports out of memory, every cached
 * block is freed and the allocation retried once; a second failure throws {@link DeviceOutOfMemoryException}
 * with the statistics.
 */
public final class DeviceAllocator {
    static final long SMALL_LIMIT = 1L << 20, FINE_LIMIT = 64L << 10, SMALL_QUANTUM = 512, LARGE_QUANTUM = 2L << 20;

    /** A block handed out: its address and its size class (what it occupies). */
    public record Block(long address, long size) {}

    private final DeviceMemory memory;
    private final String device;
    private final Map<Long, ArrayDeque<Block>> small = new HashMap<>();
    private final TreeMap<Long, ArrayDeque<Block>> large = new TreeMap<>();
    private long allocated, reserved, peak, allocations, hits, driverAllocations, retries;

    public DeviceAllocator(DeviceMemory memory, String device) {
        this.memory = memory;
        this.device = device;
    }

    /** The size class of a request. */
    static long sizeClass(long bytes) {
        long b = Math.max(bytes, 1);
        if (b <= FINE_LIMIT) return (b + SMALL_QUANTUM - 1) / SMALL_QUANTUM * SMALL_QUANTUM;
        if (b <= SMALL_LIMIT) {
            long step = Long.highestOneBit(b - 1) / 4;
            return (b + step - 1) / step * step;
        }
        return (b + LARGE_QUANTUM - 1) / LARGE_QUANTUM * LARGE_QUANTUM;
    }

    public synchronized Block allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException(device + ": negative allocation " + bytes);
        long size = sizeClass(bytes);
        allocations++;
        Block b = takeCached(size);
        if (b != null) {
            hits++;
            memory.reused(b.address(), b.size());
        } else {
            long address = memory.allocate(size);
            if (address == 0) {
                retries++;
                emptyCache();
                address = memory.allocate(size);
                if (address == 0) throw new DeviceOutOfMemoryException(device, bytes, stats(),
                        memory.lastError() == null ? null : "driver: " + memory.lastError());
            }
            driverAllocations++;
            reserved += size;
            b = new Block(address, size);
        }
        allocated += b.size();
        peak = Math.max(peak, allocated);
        return b;
    }

    private Block takeCached(long size) {
        if (size <= SMALL_LIMIT) {
            ArrayDeque<Block> q = small.get(size);
            return q == null ? null : q.pollLast();
        }
        var e = large.ceilingEntry(size);
        if (e == null || e.getKey() > size + size / 4) return null;
        Block b = e.getValue().pollLast();
        if (e.getValue().isEmpty()) large.remove(e.getKey());
        return b;
    }

    /** Returns a block to the cache. */
    public synchronized void free(Block b) {
        allocated -= b.size();
        if (b.size() <= SMALL_LIMIT) small.computeIfAbsent(b.size(), k -> new ArrayDeque<>()).addLast(b);
        else large.computeIfAbsent(b.size(), k -> new ArrayDeque<>()).addLast(b);
    }

    /** Frees every cached block to the driver. */
    public synchronized void emptyCache() {
        for (var q : small.values()) for (Block b : q) release(b);
        for (var q : large.values()) for (Block b : q) release(b);
        small.clear();
        large.clear();
    }

    private void release(Block b) {
        memory.free(b.address());
        reserved -= b.size();
    }

    public synchronized DeviceMemoryStats stats() {
        return new DeviceMemoryStats(allocated, reserved, peak, allocations, hits, driverAllocations, retries);
    }

    /** Forgets the peak (for measuring one phase). */
    public synchronized void resetPeak() { peak = allocated; }
}
