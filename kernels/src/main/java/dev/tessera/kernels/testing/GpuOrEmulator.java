package dev.tessera.kernels.testing;

import dev.tessera.runtime.cuda.CudaDevice;

/**
 * Test support for the gpu-tagged suites of the layers above the runtime, which cannot see its CUDA package: they run
 * on cuda:0, a GPU or, where the probe finds none, the CUDA emulator (the CUDA C kernels built for the CPU, see
 * {@code KernelEmulator}), and skip where neither can be used.
 */
public final class GpuOrEmulator {
    private GpuOrEmulator() {}

    /** Null when cuda:0 can run the gpu-tagged tests, else why not (the first call says on stdout which it is). */
    public static String unavailableReason() { return CudaDevice.gpuOrEmulator(0); }

    /** True when cuda:0 is the CUDA emulator. */
    public static boolean emulated() { return CudaDevice.isEmulated(0); }
}
