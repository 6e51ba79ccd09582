package dev.tessera.kernels.testing;

import java.util.concurrent.atomic.AtomicBoolean;

import dev.tessera.runtime.cuda.CudaDevice;

/**
 * Test support for the gpu-tagged suites of the layers above the runtime, which cannot see its CUDA package: they run
 * on cuda:0, a GPU or, where the probe finds none, the CUDA emulator (the CUDA C kernels built for the CPU, see
 * {@code KernelEmulator}), and skip where neither can be used.
 */
public final class GpuOrEmulator {
    private static final AtomicBoolean SAID = new AtomicBoolean();

    private GpuOrEmulator() {}

    /** Null when cuda:0 can run the gpu-tagged tests, else why not; says once on stdout which it is. */
    public static String unavailableReason() {
        String why = CudaDevice.gpuOrEmulator(0);
        if (SAID.compareAndSet(false, true)) {
            System.out.println(why != null ? "[gpu] tests tagged gpu are skipped: " + why
                    : CudaDevice.isEmulated(0) ? "[gpu] no GPU: tests tagged gpu run on the CUDA emulator (the CUDA kernels on the CPU)"
                    : "[gpu] tests tagged gpu run on " + CudaDevice.get(0).name());
        }
        return why;
    }

    /** True when cuda:0 is the CUDA emulator. */
    public static boolean emulated() { return CudaDevice.isEmulated(0); }
}
