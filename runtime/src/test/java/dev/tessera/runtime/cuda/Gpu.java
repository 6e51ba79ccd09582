package dev.tessera.runtime.cuda;

import org.junit.jupiter.api.Assumptions;

/** For tests tagged "gpu": skips, printing the probe's reason, where no CUDA device can be used. */
public final class Gpu {
    private Gpu() {}

    /** Skips the calling test unless cuda:0 is usable. */
    public static void assumeAvailable() {
        CudaProbe.Result r = CudaProbe.result();
        if (!r.available()) System.out.println("[gpu] skipped: " + r.reason());
        Assumptions.assumeTrue(r.available(), () -> "needs an NVIDIA GPU: " + r.reason());
    }
}
