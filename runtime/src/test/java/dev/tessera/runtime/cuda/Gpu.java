package dev.tessera.runtime.cuda;

import org.junit.jupiter.api.Assumptions;

/**
 * For tests tagged "gpu": they run on cuda:0, a GPU or, where there is none, the CUDA emulator (the same CUDA C
 * kernels built for the CPU, see {@link KernelEmulator}); they skip, printing why, where neither can be used.
 */
public final class Gpu {
    private Gpu() {}

    /** Skips the calling test unless cuda:0 is usable. */
    public static void assumeAvailable() {
        String why = CudaDevice.gpuOrEmulator(0);
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
    }
}
