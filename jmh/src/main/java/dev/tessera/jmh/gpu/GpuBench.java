package dev.tessera.jmh.gpu;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.cuda.CudaDevice;

/** Shared pieces of the GPU benchmarks: the device, and a wait so that each invocation times finished GPU work. */
final class GpuBench {
    static {
        // A rehearsal of scripts/gpu-check.sh on a machine without a GPU runs these on the CUDA emulator (smoke only).
        if (System.getProperty("tessera.cuda.emulator") != null && !CudaDevice.isAvailable()) {
            String why = CudaDevice.installEmulator(0);
            if (why != null) throw new IllegalStateException(why);
        }
    }

    static final Device GPU = Device.cuda(0);

    private GpuBench() {}

    static CudaDevice device() { return CudaDevice.get(0); }

    static void sync() { device().synchronize("benchmark"); }
}
