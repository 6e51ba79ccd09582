package dev.tessera.runtime.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Host↔device copies through two page-locked staging buffers. Copies from pageable memory would be staged by
 * the driver anyway and made synchronous; with our own pinned buffers we copy chunk i+1 into one buffer while
 * the DMA engine moves chunk i from the other.
 */
final class PinnedStaging {
    static final int CHUNK = 8 << 20;

    private final JCudaDeviceDriver device;
    private final ByteBuffer[] buffers = new ByteBuffer[2];
    private final Pointer[] pointers = new Pointer[2];

    PinnedStaging(JCudaDeviceDriver device) { this.device = device; }

    private void ensure() {
        if (buffers[0] != null) return;
        for (int i = 0; i < 2; i++) {
            Pointer p = new Pointer();
            CudaErrors.check("cuMemHostAlloc(" + CHUNK + " B pinned)", JCudaDriver.cuMemHostAlloc(p, CHUNK, 0));
            pointers[i] = p;
            buffers[i] = p.getByteBuffer(0, CHUNK);
        }
    }

    synchronized void toDevice(MemorySegment src, long srcOffset, long dst, long bytes) {
        if (bytes == 0) return;
        device.makeCurrent();
        ensure();
        // Before refilling a buffer, wait for the copy that last read it: with two buffers, sync every other chunk.
        int k = 0;
        for (long done = 0; done < bytes; done += CHUNK, k++) {
            int n = (int) Math.min(CHUNK, bytes - done);
            int b = k & 1;
            if (k >= 2) device.synchronize("staging host->device");
            MemorySegment.copy(src, srcOffset + done, MemorySegment.ofBuffer(buffers[b]), 0, n);
            CudaErrors.check("cuMemcpyHtoDAsync", JCudaDriver.cuMemcpyHtoDAsync(JCudaDeviceDriver.at(dst + done), pointers[b], n, device.stream()));
        }
        device.synchronize("host->device copy");
    }

    synchronized void toHost(long src, MemorySegment dst, long dstOffset, long bytes) {
        if (bytes == 0) return;
        device.makeCurrent();
        ensure();
        for (long done = 0; done < bytes; done += CHUNK) {
            int n = (int) Math.min(CHUNK, bytes - done);
            CudaErrors.check("cuMemcpyDtoHAsync", JCudaDriver.cuMemcpyDtoHAsync(pointers[0], JCudaDeviceDriver.at(src + done), n, device.stream()));
            device.synchronize("device->host copy");
            MemorySegment.copy(MemorySegment.ofBuffer(buffers[0]), 0, dst, dstOffset + done, n);
        }
    }
}
