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
    private final MemorySegment segment; // CPU storages
    private final dev.tessera.runtime.cuda.DeviceAllocator.Block deviceBlock; // CUDA storages
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
                AllocationSites.freed(this);
            }
        }
    }

    /** Returns a device block to its device's cache; like {@link Release}, it must not reference the storage. */
    private static final class DeviceRelease implements Runnable {
        private final dev.tessera.runtime.cuda.CudaDevice cuda;
        private final dev.tessera.runtime.cuda.DeviceAllocator.Block block;
        private final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();

        DeviceRelease(dev.tessera.runtime.cuda.CudaDevice cuda, dev.tessera.runtime.cuda.DeviceAllocator.Block block) {
            this.cuda = cuda;
            this.block = block;
        }

        @Override public void run() {
            if (done.compareAndSet(false, true)) {
                cuda.allocator().free(block);
                AllocationSites.freed(this);
            }
        }
    }

    /**
     * With {@code -Dtessera.poisonUninitialized=true} (the test suites set it), memory handed out uninitialised is
     * filled with 0xFF bytes — NaN in every float type, −1 in every integer type — so that an op which leaves part
     * of its output unwritten fails its tests instead of passing on memory that happened to be zero.
     */
    static final boolean POISON = Boolean.getBoolean("tessera.poisonUninitialized");

    private Storage(Device device, long byteSize, boolean zero) {
        this.device = device;
        this.byteSize = byteSize;
        if (device.isCpu()) {
            CpuAllocator.Block block = CpuAllocator.acquire(byteSize);
            this.segment = block.segment.asSlice(0, Math.max(byteSize, 1));
            this.deviceBlock = null;
            if (zero) {
                long profiled = Profiler.start(); // inside the time of the op that allocates
                segment.fill((byte) 0);
                Profiler.stop("zero_fill", profiled);
            } else if (POISON) {
                segment.fill((byte) 0xFF);
            }
            MemoryStats.cpuAllocated(byteSize);
            Release release = new Release(block, byteSize);
            AllocationSites.allocated(release, device, byteSize);
            this.cleanable = CLEANER.register(this, release);
        } else {
            var cuda = dev.tessera.runtime.cuda.CudaDevice.get(device.index());
            this.segment = null;
            this.deviceBlock = cuda.allocator().allocate(byteSize);
            if (zero) cuda.zero(deviceBlock.address(), byteSize);
            else if (POISON) cuda.poison(deviceBlock.address(), byteSize);
            DeviceRelease release = new DeviceRelease(cuda, deviceBlock);
            AllocationSites.allocated(release, device, byteSize);
            this.cleanable = CLEANER.register(this, release);
        }
    }

    /** Uninitialised memory (reused blocks hold old data) unless {@code zero}. */
    static Storage allocate(Device device, long byteSize, boolean zero) {
        if (byteSize < 0) throw new IllegalArgumentException("negative allocation size " + byteSize);
        return new Storage(device, byteSize, zero);
    }

    /** The device address of byte 0 of a CUDA storage; the caller must hold a reference. */
    long deviceAddress() {
        if (deviceBlock == null) throw new IllegalStateException("storage on " + device + " has no device address");
        return deviceBlock.address();
    }

    Device device() { return device; }

    long byteSize() { return byteSize; }

    boolean isFreed() { return refs.get() <= 0; }

    /** More than one tensor (views, aliases) refers to this memory. */
    boolean isShared() { return refs.get() > 1; }

    /** The host memory; the caller must hold a reference. CUDA storages have none: copy to the CPU first. */
    MemorySegment segment() {
        if (segment == null) {
            throw new IllegalStateException("tensor storage is on " + device + ", not in host memory: this operation needs a CPU tensor (use .to(Device.cpu()))");
        }
        return segment;
    }

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
