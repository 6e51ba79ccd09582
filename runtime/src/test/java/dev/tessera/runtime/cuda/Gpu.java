package dev.tessera.runtime.cuda;

import org.junit.jupiter.api.Assumptions;

/**
 * For tests tagged "gpu": they run on cuda:0, a GPU or, where there is none, the CUDA emulator (the same CUDA C
 * kernels built for the CPU, see {@link KernelEmulator}); they skip, printing why, where neither can be used.
 */
public final class Gpu {
    private static final java.util.concurrent.atomic.AtomicBoolean SAID = new java.util.concurrent.atomic.AtomicBoolean();

    private Gpu() {}

    /** Skips the calling test unless cuda:0 is usable. */
    public static void assumeAvailable() {
        String why = CudaDevice.gpuOrEmulator(0);
        if (SAID.compareAndSet(false, true)) {
            System.out.println(why != null ? "[gpu] tests tagged gpu are skipped: " + why
                    : CudaDevice.isEmulated(0) ? "[gpu] no GPU: tests tagged gpu run on the CUDA emulator (the CUDA kernels on the CPU)"
                    : "[gpu] tests tagged gpu run on " + CudaDevice.get(0).name());
        }
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
    }
}
