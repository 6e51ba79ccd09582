package dev.tessera.models.baseline;

import java.util.List;
import java.util.function.Supplier;

/** Installs the runtime's dry-run CUDA device at cuda:7 for tests, through the kernels module that may reach it. */
final class DryRun {
    private DryRun() {}

    /** Installs it; the supplier lists the kernels launched so far. */
    static Supplier<List<String>> install() { return dev.tessera.kernels.testing.DryRunDevices.install(7); }
}
