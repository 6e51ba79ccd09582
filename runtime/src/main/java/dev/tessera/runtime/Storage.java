package dev.tessera.runtime;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A reference-counted block of native memory shared by a tensor and its views.
 * Each tensor object holds one reference; autograd's saved tensors hold their own. The memory is freed
 * to the {@link CpuAllocator} the moment the count reaches zero. The {@link Cleaner} only catches storages that were never
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
    private final Cleaner.Cleanable cleanable;

    /** The part of a storage the cleaner may touch: it must not reference the storage itself. */
    private static final class Release implements Runnable {
        private final CpuAllocator.Block block;
        private final long bytes;
        private final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();

        Release(CpuAllocator.Block block, long bytes) { this.block = block; this.bytes = bytes; }

        @Override public void run() {
            if (done.compareAndSet(false, true)) {
                CpuAllocator.release(block);
                MemoryStats.cpuFreed(bytes);
            }
        }
    }

    private Storage(Device device, long byteSize, boolean zero) {
        this.device = device;
        this.byteSize = byteSize;
        CpuAllocator.Block block = CpuAllocator.acquire(byteSize);
        this.segment = block.segment.asSlice(0, Math.max(byteSize, 1));
        if (zero) segment.fill((byte) 0);
        MemoryStats.cpuAllocated(byteSize);
        this.cleanable = CLEANER.register(this, new Release(block, byteSize));
    }

    /** Uninitialised memory (reused blocks hold old data) unless {@code zero}. */
    static Storage allocate(Device device, long byteSize, boolean zero) {
        if (!device.isCpu()) throw new TesseraException("no backend for device " + device + " in this build");
        if (byteSize < 0) throw new IllegalArgumentException("negative allocation size " + byteSize);
        return new Storage(device, byteSize, zero);
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
