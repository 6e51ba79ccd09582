package dev.tessera.runtime;

/**
 * A device allocation (a GPU, or the host past its limit) failed even after the caching allocator gave back every
 * cached block. Carries the request and the allocator's statistics at the moment of failure, so the message says
 * what was held.
 */
public final class DeviceOutOfMemoryException extends TesseraException {
    private final String device;
    private final long requestedBytes;
    private final DeviceMemoryStats stats;
    private final String why;

    /**
     * @param device "cpu" or "cuda:N"
     * @param why    what refused the memory (a GPU's driver error, the host's limit), or null
     */
    public DeviceOutOfMemoryException(String device, long requestedBytes, DeviceMemoryStats stats, String why) {
        this(device, requestedBytes, stats, why, null, null);
    }

    private DeviceOutOfMemoryException(String device, long requestedBytes, DeviceMemoryStats stats, String why, String tensor,
                                       DeviceOutOfMemoryException cause) {
        super(device + ": out of memory allocating " + DeviceMemoryStats.human(requestedBytes)
                + (tensor == null ? "" : " for " + tensor) + " (" + stats + ")"
                + (why == null ? "" : "; " + why)
                + ". Free tensors (close scopes), or use a smaller batch or sequence.", cause);
        this.device = device;
        this.requestedBytes = requestedBytes;
        this.stats = stats;
        this.why = why;
    }

    /** The same failure, its message naming the tensor that was being allocated (e.g. "a tensor of [8, 256, 296] F32"). */
    public DeviceOutOfMemoryException forTensor(String tensor) {
        return new DeviceOutOfMemoryException(device, requestedBytes, stats, why, tensor, this);
    }

    public String device() { return device; }

    public long requestedBytes() { return requestedBytes; }

    public DeviceMemoryStats stats() { return stats; }
}
