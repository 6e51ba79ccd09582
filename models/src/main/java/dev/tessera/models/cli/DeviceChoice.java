package dev.tessera.models.cli;

import dev.tessera.runtime.RuntimeInfo;

/**
 * The {@code --device} option: {@code cpu}, {@code cuda} or {@code auto}. The runtime's ops run on CUDA, but the
 * fused kernels the models need (selective scan, flash attention, chunk routing) do not yet, so the models run on
 * the CPU: {@code auto} means the CPU and {@code cuda} is refused with one line that says why.
 */
final class DeviceChoice {
    private DeviceChoice() {}

    static void require(String device) {
        switch (device) {
            case "cpu", "auto" -> { }
            case "cuda" -> {
                String unavailable = RuntimeInfo.cudaUnavailableReason();
                if (unavailable != null) throw new CliFailure("--device cuda: " + unavailable, 2);
                throw new CliFailure("--device cuda: the models' fused kernels (scan, attention, routing) have no CUDA implementation"
                        + " in this build yet; use --device cpu (or auto)", 2);
            }
            default -> throw new CliFailure("unknown device '" + device + "' (known: cpu, cuda, auto)", 2);
        }
    }
}
