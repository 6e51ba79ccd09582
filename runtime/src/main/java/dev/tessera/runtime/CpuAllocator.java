package dev.tessera.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * A caching allocator for host memory. Fresh native memory is expensive to touch the first time (every page
 * faults in), so freed blocks are kept in size-class bins and handed out again; a training loop that
 * allocates the same shapes every step reaches a steady state with no new memory at all. Blocks beyond
 * {@link #cacheLimit()} cached bytes are returned to the system, oldest first.
 */
final class CpuAllocator {
    /** One allocation: its own arena, so that returning it to the system is independent of all others. */
    static final class Block {
        final Arena arena;
        final MemorySegment segment;
        final long classBytes;
        boolean cached;

        Block(Arena arena, MemorySegment segment, long classBytes) {
            this.arena = arena;
            this.segment = segment;
            this.classBytes = classBytes;
        }
    }

    private static final long CACHE_LIMIT = Long.getLong("tessera.cpu.cacheBytes", 2L << 30);
    private static final Map<Long, ArrayDeque<Block>> BINS = new HashMap<>();
    private static final ArrayDeque<Block> FIFO = new ArrayDeque<>();
    private static long cachedBytes;

    private CpuAllocator() {}

    static long cacheLimit() { return CACHE_LIMIT; }

    /** Size classes: multiples of 512 bytes up to 1 MiB, then four classes per power of two (at most 25% slack). */
    static long sizeClass(long bytes) {
        if (bytes <= 0) return 64;
        if (bytes <= (1 << 20)) return (bytes + 511) & ~511L;
        int log = 63 - Long.numberOfLeadingZeros(bytes - 1);
        long step = 1L << (log - 2);
        return (bytes + step - 1) / step * step;
    }

    static synchronized Block acquire(long bytes) {
        long cls = sizeClass(bytes);
        ArrayDeque<Block> bin = BINS.get(cls);
        while (bin != null && !bin.isEmpty()) {
            Block b = bin.pop();
            if (!b.cached) continue; // evicted earlier; stale entry
            b.cached = false;
            cachedBytes -= cls;
            return b;
        }
        return fresh(cls);
    }

    private static Block fresh(long cls) {
        Arena arena = Arena.ofShared();
        try {
            return new Block(arena, arena.allocate(cls, Storage.ALIGNMENT), cls);
        } catch (OutOfMemoryError e) {
            arena.close();
            trim(0); // give back everything cached and try once more
            Arena retry = Arena.ofShared();
            try {
                return new Block(retry, retry.allocate(cls, Storage.ALIGNMENT), cls);
            } catch (OutOfMemoryError e2) {
                retry.close();
                throw new TesseraException("out of host memory allocating " + cls + " bytes (tensors alive: "
                        + MemoryStats.cpuLiveBytes() + " bytes)", e2);
            }
        }
    }

    static synchronized void release(Block b) {
        if (b.cached) throw new IllegalStateException("block released twice");
        b.cached = true;
        cachedBytes += b.classBytes;
        BINS.computeIfAbsent(b.classBytes, k -> new ArrayDeque<>()).push(b);
        FIFO.addLast(b);
        trim(CACHE_LIMIT);
    }

    /** Returns cached blocks to the system until at most {@code limit} bytes stay cached. */
    static synchronized void trim(long limit) {
        while (cachedBytes > limit && !FIFO.isEmpty()) {
            Block b = FIFO.pollFirst();
            if (!b.cached) continue;
            b.cached = false;
            cachedBytes -= b.classBytes;
            b.arena.close();
        }
        if (FIFO.size() > 4 * (BINS.size() + 16)) FIFO.removeIf(b -> !b.cached); // drop stale entries now and then
    }

    static synchronized long cachedBytes() { return cachedBytes; }
}
