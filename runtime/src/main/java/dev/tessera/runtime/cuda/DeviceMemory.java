package dev.tessera.runtime.cuda;

/** Raw device memory as the driver gives it; the seam that lets the caching allocator be tested without a GPU. */
public interface DeviceMemory {
    /** Allocates {@code bytes}; returns 0 when the device is out of memory (other failures throw). */
    long allocate(long bytes);

    void free(long address);

    /**
     * The caching allocator hands out {@code bytes} at {@code address} again. A GPU leaves them as they are; a dry
     * run zero-fills them, so that memory no kernel wrote reads back as 0 every time, not as whatever a freed tensor
     * held.
     */
    default void reused(long address, long bytes) {}

    /** The driver's last out-of-memory message, for the exception (may be null). */
    default String lastError() { return null; }
}
