package dev.tessera.runtime.cuda;

import org.junit.jupiter.api.Assumptions;

/** For tests tagged "gpu": skips, printing the probe's reason, where no CUDA device can be used. */
public final class Gpu {
    private static final java.util.concurrent.atomic.AtomicBoolean SAID = new java.util.concurrent.atomic.AtomicBoolean();

    private Gpu() {}

    /** Skips the calling test unless cuda:0 is usable. */
    public static void assumeAvailable() {
        CudaProbe.Result r = CudaProbe.result();
        if (!r.available() && SAID.compareAndSet(false, true)) System.out.println("[gpu] tests tagged gpu are skipped: " + r.reason());
        Assumptions.assumeTrue(r.available(), () -> "needs an NVIDIA GPU: " + r.reason());
    }
}
