package dev.tessera.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reference-counted block of native memory shared by a tensor and its views.
 * Each tensor object holds one reference; autograd's saved tensors hold their own. The memory is freed
 * the moment the count reaches zero. The {@link Cleaner} only catches storages that were never
 * released, which is a bug in the caller's scoping, never the plan.
 */
final class Storage {
    private static final Cleaner CLEANER = Cleaner.create();
    /** Alignment of every CPU allocation, so that vector loads never straddle a cache line at offset 0. */
    static final long ALIGNMENT = 64;

    private final Device device;
    private final long byteSize;
    private final MemorySegment segment;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final Release release;
    private final Cleaner.Cleanable cleanable;

    /**
     * The C allocator. A shared {@link Arena} per storage would be simpler, but closing one costs a handshake
     * with every Java thread (about 35 µs), which dominated small training steps; {@code posix_memalign} and
     * {@code free} cost well under a microsecond. Use after free cannot happen through a tensor: a tensor that is
     * not released holds a reference, and every access checks that first.
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

        /** {@code bytes} of zeroed memory aligned to {@link #ALIGNMENT}, or null when the C allocator has none. */
        static MemorySegment allocate(long bytes) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                int rc = (int) MEMALIGN.invokeExact(out, ALIGNMENT, bytes);
                if (rc != 0) return null;
                MemorySegment m = out.get(ValueLayout.ADDRESS, 0).reinterpret(bytes);
                m.fill((byte) 0);
                return m;
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

    /** The part of a storage the cleaner may touch: it must not reference the storage itself. */
    private static final class Release implements Runnable {
        private final MemorySegment memory;
        private final long bytes;
        private final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();

        Release(MemorySegment memory, long bytes) { this.memory = memory; this.bytes = bytes; }

        @Override public void run() {
            if (done.compareAndSet(false, true)) {
                Native.free(memory);
                MemoryStats.cpuFreed(bytes);
            }
        }
    }

    private Storage(Device device, long byteSize) {
        this.device = device;
        this.byteSize = byteSize;
        // Fresh storages read as zeros.
        this.segment = Native.allocate(Math.max(byteSize, 1));
        if (segment == null) {
            throw new TesseraException("out of host memory allocating " + byteSize + " bytes (live: "
                    + MemoryStats.cpuLiveBytes() + " bytes)");
        }
        MemoryStats.cpuAllocated(byteSize);
        this.release = new Release(segment, byteSize);
        this.cleanable = CLEANER.register(this, release);
    }

    static Storage allocate(Device device, long byteSize) {
        if (!device.isCpu()) throw new TesseraException("no backend for device " + device + " in this build");
        if (byteSize < 0) throw new IllegalArgumentException("negative allocation size " + byteSize);
        return new Storage(device, byteSize);
    }

    Device device() { return device; }

    long byteSize() { return byteSize; }

    boolean isFreed() { return refs.get() <= 0; }

    /** The memory; the caller must hold a reference. */
    MemorySegment segment() { return segment; }

    void retain() {
        for (;;) {
            int r = refs.get();
            if (r <= 0) throw new IllegalStateException("storage already released");
            if (refs.compareAndSet(r, r + 1)) return;
        }
    }

    void release() {
        int r = refs.decrementAndGet();
        if (r == 0) cleanable.clean();
        else if (r < 0) throw new IllegalStateException("storage released more times than retained");
    }
}
