package dev.tessera.runtime;

/**
 * A device allocation failed even after the caching allocator returned every cached block to the driver. Carries
 * the request and the allocator's statistics at the moment of failure, so the message says what was held.
 */
public final class DeviceOutOfMemoryException extends TesseraException {
    private final String device;
    private final long requestedBytes;
    private final DeviceMemoryStats stats;

    public DeviceOutOfMemoryException(String device, long requestedBytes, DeviceMemoryStats stats, String driverMessage) {
        super(device + ": out of memory allocating " + DeviceMemoryStats.human(requestedBytes) + " (" + stats + ")"
                + (driverMessage == null ? "" : "; driver: " + driverMessage)
                + ". Free tensors (close scopes), use a smaller batch or sequence, or BF16 storage.");
        this.device = device;
        this.requestedBytes = requestedBytes;
        this.stats = stats;
    }

    public String device() { return device; }

    public long requestedBytes() { return requestedBytes; }

    public DeviceMemoryStats stats() { return stats; }
}
