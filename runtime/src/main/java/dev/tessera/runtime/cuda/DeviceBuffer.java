package dev.tessera.runtime.cuda;

/** A temporary block of device memory from the caching allocator; closing it returns the block (in stream order). */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private final DeviceAllocator.Block block;
    private final long bytes;
    private boolean closed;

    DeviceBuffer(CudaDevice device, DeviceAllocator.Block block, long bytes) {
        this.device = device;
        this.block = block;
        this.bytes = bytes;
    }

    public long address() {
        if (closed) throw new IllegalStateException("device buffer already closed");
        return block.address();
    }

    public long bytes() { return bytes; }

    @Override public void close() {
        if (closed) return;
        closed = true;
        device.allocator().free(block);
    }
}
