package dev.tessera.runtime.cuda;

/** Raw device memory as the driver gives it; the seam that lets the caching allocator be tested without a GPU. */
public interface DeviceMemory {
    /** Allocates {@code bytes}; returns 0 when the device is out of memory (other failures throw). */
    long allocate(long bytes);

    void free(long address);

    /** The driver's last out-of-memory message, for the exception (may be null). */
    default String lastError() { return null; }
}
