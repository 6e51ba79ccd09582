package dev.tessera.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * A caching allocator for host memory. Fresh native memory is expensive to touch the first time (every page
 * faults in), so freed blocks are kept in size-class bins and handed out again; a training loop that
 * allocates the same shapes every step reaches a steady state with no new memory at all. Blocks beyond
 * {@link #cacheLimit()} cached bytes are returned to the system, oldest first. What it takes from the system is kept
 * within {@link HostMemoryLimit}: past it, the cache is emptied and, if that is not enough, the request fails with a
 * {@link DeviceOutOfMemoryException} instead of the kernel killing the process later.
 */
final class CpuAllocator {
    /**
     * One allocation from the C allocator. While cached it sits in two intrusive lists: its size class's bin (most
     * recently released first, so a hot block is reused while it is still in the CPU caches) and the eviction order
     * (oldest release first). Both links are cut in O(1) when the block is reused or freed, so the bookkeeping stays
     * as large as the cache, however many times blocks go round.
     */
    static final class Block {
        final MemorySegment segment;
        final long classBytes;
        boolean cached;
        Block binNext, binPrev;     // the size-class bin
        Block newer, older;         // the eviction order

        Block(MemorySegment segment, long classBytes) {
            this.segment = segment;
            this.classBytes = classBytes;
        }
    }

    /** A size class's cached blocks, most recently released first. */
    private static final class Bin {
        Block head;
    }

    /**
     * {@code posix_memalign} and {@code free}. A shared {@link Arena} per block would be simpler, but closing one
     * costs a handshake with every Java thread (tens of µs). Use after free cannot happen through a tensor: a
     * tensor that is not released holds a reference to its storage, and every access checks that first.
     */
    private static final class Native {
        static final MethodHandle MEMALIGN, FREE;

        static {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            MEMALIGN = linker.downcallHandle(libc.find("posix_memalign").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
            FREE = linker.downcallHandle(libc.find("free").orElseThrow(), FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
        }

        /** {@code bytes} of uninitialised memory aligned to {@link Storage#ALIGNMENT}, or null when there is none. */
        static MemorySegment allocate(long bytes) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                int rc = (int) MEMALIGN.invokeExact(out, Storage.ALIGNMENT, bytes);
                if (rc != 0) return null;
                return out.get(ValueLayout.ADDRESS, 0).reinterpret(bytes);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("posix_memalign failed", e);
            }
        }

        static void free(MemorySegment m) {
            try {
                FREE.invokeExact(m);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new IllegalStateException("free failed", e);
            }
        }
    }

    private static final long CACHE_LIMIT = Long.getLong("tessera.cpu.cacheBytes", 2L << 30);
    /** Indices {@link #classIndex} can give: up to the four classes above 2⁶² bytes. */
    static final int CLASS_COUNT = 129 + 4 * (62 - 16) + 4;
    /** The bins by {@link #classIndex}: an array, since a map keyed by the class boxed a Long on every acquire and release. */
    private static final Bin[] BINS = new Bin[CLASS_COUNT];
    private static Block oldest, newest; // the eviction order of cached blocks
    private static long cachedBytes, cachedBlocks;
    /** Bytes taken from the C allocator and not yet freed (in use plus cached), and the other counters of {@link #stats}. */
    private static long reservedBytes, peakAllocatedBytes, acquisitions, freshAllocations, retries;

    private CpuAllocator() {}

    static long cacheLimit() { return CACHE_LIMIT; }

    /** Size classes: multiples of 512 bytes up to 64 KiB, then four classes per power of two (at most 25% slack). */
    static long sizeClass(long bytes) {
        if (bytes <= 0) return 64;
        if (bytes <= (64 << 10)) return (bytes + 511) & ~511L;
        int log = 63 - Long.numberOfLeadingZeros(bytes - 1);
        long step = 1L << (log - 2);
        return (bytes + step - 1) / step * step;
    }

    /**
     * A dense index of size class {@code cls}: 0 for the 64-byte class of empty tensors, 1–128 for the multiples of 512
     * bytes up to 64 KiB, then four per power of two (so {@link #CLASS_COUNT} covers every long size).
     */
    static int classIndex(long cls) {
        if (cls <= (64 << 10)) return (int) (cls / 512);
        int log = 63 - Long.numberOfLeadingZeros(cls - 1);
        return 129 + 4 * (log - 16) + (int) (cls >>> (log - 2)) - 5;
    }

    private static Bin bin(long cls) {
        int i = classIndex(cls);
        Bin b = BINS[i];
        if (b == null) BINS[i] = b = new Bin();
        return b;
    }

    static synchronized Block acquire(long bytes) {
        long cls = sizeClass(bytes);
        Bin bin = BINS[classIndex(cls)];
        Block b;
        if (bin != null && bin.head != null) {
            b = bin.head;
            uncache(b, bin);
        } else {
            b = fresh(bytes, cls);
        }
        acquisitions++;
        peakAllocatedBytes = Math.max(peakAllocatedBytes, reservedBytes - cachedBytes);
        return b;
    }

    private static Block fresh(long bytes, long cls) {
        long limit = HostMemoryLimit.bytes();
        MemorySegment m = reservedBytes + cls <= limit ? Native.allocate(cls) : null;
        if (m == null) {
            retries++;
            trim(0); // give back everything cached and try once more
            limit = HostMemoryLimit.bytes();
            m = reservedBytes + cls <= limit ? Native.allocate(cls) : null;
        }
        if (m == null) {
            String why = reservedBytes + cls > limit
                    ? "over the limit of " + DeviceMemoryStats.human(limit) + " (" + HostMemoryLimit.describe() + ")"
                    : "the C allocator has no more";
            throw new DeviceOutOfMemoryException("cpu", bytes, stats(), why);
        }
        reservedBytes += cls;
        freshAllocations++;
        return new Block(m, cls);
    }

    /** The allocator's books, in the same form as a GPU's. */
    static synchronized DeviceMemoryStats stats() {
        return new DeviceMemoryStats(reservedBytes - cachedBytes, reservedBytes, peakAllocatedBytes, acquisitions,
                acquisitions - freshAllocations, freshAllocations, retries);
    }

    static synchronized void release(Block b) {
        if (b.cached) throw new IllegalStateException("block released twice");
        b.cached = true;
        cachedBytes += b.classBytes;
        cachedBlocks++;
        Bin bin = bin(b.classBytes);
        b.binNext = bin.head;
        if (bin.head != null) bin.head.binPrev = b;
        bin.head = b;
        b.older = newest;
        if (newest != null) newest.newer = b;
        newest = b;
        if (oldest == null) oldest = b;
        trim(CACHE_LIMIT);
    }

    /** Takes a cached block out of its bin and out of the eviction order. */
    private static void uncache(Block b, Bin bin) {
        if (b.binPrev != null) b.binPrev.binNext = b.binNext;
        else bin.head = b.binNext;
        if (b.binNext != null) b.binNext.binPrev = b.binPrev;
        if (b.older != null) b.older.newer = b.newer;
        else oldest = b.newer;
        if (b.newer != null) b.newer.older = b.older;
        else newest = b.older;
        b.binNext = b.binPrev = b.newer = b.older = null;
        b.cached = false;
        cachedBytes -= b.classBytes;
        cachedBlocks--;
    }

    /** Returns cached blocks to the system, oldest release first, until at most {@code limit} bytes stay cached. */
    static synchronized void trim(long limit) {
        while (cachedBytes > limit && oldest != null) {
            Block b = oldest;
            uncache(b, bin(b.classBytes));
            Native.free(b.segment);
            reservedBytes -= b.classBytes;
        }
    }

    static synchronized long cachedBytes() { return cachedBytes; }

    /** Number of cached blocks (for tests: the bookkeeping must not outgrow the cache). */
    static synchronized long cachedBlocks() { return cachedBlocks; }
}
