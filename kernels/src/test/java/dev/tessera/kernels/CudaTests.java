package dev.tessera.kernels;

import dev.tessera.kernels.testing.GpuOrEmulator;
import dev.tessera.runtime.Device;
import org.junit.jupiter.api.Assumptions;

/** For the gpu-tagged tests of the fused kernels: cuda:0 (a GPU or the CUDA emulator), or skip saying why. */
public final class CudaTests {
    private CudaTests() {}

    /** cuda:0, after skipping the test with the reason when neither a GPU nor the emulator is usable. */
    public static Device assumeGpu() {
        String why = GpuOrEmulator.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
        return Device.cuda(0);
    }
}
