package dev.tessera.kernels.testing;

import java.util.List;
import java.util.function.Supplier;

import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.DryRunDriver;

/**
 * Test support for the layers above the kernels (nn, models), which cannot see the runtime's CUDA package: makes
 * cuda:{@code ordinal} a dry-run device (launches checked against their PTX signatures, nothing run; see
 * {@code CudaDevice.installDryRun}; the routing kernels that decide chunk counts get host stand-ins, see
 * {@link RoutingEmulations}) and returns the names of the kernels launched so far.
 */
public final class DryRunDevices {
    private DryRunDevices() {}

    public static Supplier<List<String>> install(int ordinal) { return install(ordinal, 0); }

    /**
     * As {@link #install(int)}, with the routing stand-ins also marking a boundary every {@code boundaryEvery}
     * positions (0: only at sequence starts), so that an H-Net's inner stages get sequences of GPU-sized lengths.
     */
    public static Supplier<List<String>> install(int ordinal, int boundaryEvery) {
        DryRunDriver d = CudaDevice.installDryRun(ordinal);
        RoutingEmulations.install(d, boundaryEvery);
        return d::kernelsLaunched;
    }

    /** Forgets the launches recorded so far on the dry-run device cuda:{@code ordinal} (installing it if need be). */
    public static void clearLaunches(int ordinal) { CudaDevice.installDryRun(ordinal).clear(); }

    /** Copies from the dry-run device cuda:{@code ordinal} to the host so far (each a wait for the GPU on a real one). */
    public static long readBacks(int ordinal) { return CudaDevice.installDryRun(ordinal).readBacks(); }

    /** Copies from the host to the dry-run device cuda:{@code ordinal} so far (each a wait for the GPU on a real one). */
    public static long uploads(int ordinal) { return CudaDevice.installDryRun(ordinal).uploads(); }

    /** Every launch on the dry-run device cuda:{@code ordinal} since it was installed or cleared, in order, repeats kept. */
    public static List<String> launchLog(int ordinal) {
        return CudaDevice.installDryRun(ordinal).launches().stream().map(DryRunDriver.Launch::kernel).toList();
    }
}
