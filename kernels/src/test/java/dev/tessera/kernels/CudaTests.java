package dev.tessera.kernels;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.cuda.CudaProbe;
import org.junit.jupiter.api.Assumptions;

/** For the gpu-tagged tests of the fused kernels: skip, saying why, where no NVIDIA GPU is usable. */
public final class CudaTests {
    private CudaTests() {}

    /** cuda:0, after skipping the test with the probe's reason when CUDA is unavailable. */
    public static Device assumeGpu() {
        CudaProbe.Result r = CudaProbe.result();
        Assumptions.assumeTrue(r.available(), () -> "needs an NVIDIA GPU: " + r.reason());
        return Device.cuda(0);
    }
}
