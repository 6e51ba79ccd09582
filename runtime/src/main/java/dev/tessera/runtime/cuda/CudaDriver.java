package dev.tessera.runtime.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * What {@link CudaDevice} needs from a GPU: properties, memory, copies, modules and launches on one stream. The real
 * one is {@link JCudaDeviceDriver}; {@link DryRunDriver} checks every launch against the PTX signatures without a GPU.
 */
interface CudaDriver {
    String name();

    long totalMemory();

    int computeCapability();

    int multiprocessors();

    int maxSharedOptin();

    /** Makes the device's context current on the calling thread. */
    void makeCurrent();

    /** The stream handle as a raw address (for libraries reached through Panama). */
    long streamHandle();

    DeviceMemory memory();

    /** Sets {@code bytes} bytes from {@code address} to {@code value}, in stream order. */
    void fill(long address, long bytes, byte value);

    void copyDeviceToDevice(long src, long dst, long bytes);

    void copyToDevice(MemorySegment src, long srcOffset, long dst, long bytes);

    void copyToHost(long src, MemorySegment dst, long dstOffset, long bytes);

    void synchronize(String where);

    /** Loads (once per module) and returns a handle to {@code function}. */
    Object function(PtxSource owner, String module, String function);

    void setMaxDynamicShared(Object function, String name, int bytes);

    /**
     * Launches: {@code params} holds the arguments' bytes, argument i at {@code offsets[i]} with {@code sizes[i]}
     * bytes, as {@link KernelLaunch} laid them out; {@code pointers[i]} marks device-pointer arguments.
     */
    void launch(Object function, String name, int[] grid, int[] block, int sharedBytes, ByteBuffer params, int[] offsets, int[] sizes,
                boolean[] pointers, int argc);

    /** Free and total memory as the driver sees them. */
    long[] memoryInfo();
}
