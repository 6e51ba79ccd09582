package dev.tessera.models.cli;

/**
 * The {@code --device} option: {@code cpu}, {@code cuda} or {@code auto}. This build trains on the CPU only, so
 * {@code auto} means the CPU and {@code cuda} is refused with one line saying so.
 */
final class DeviceChoice {
    private DeviceChoice() {}

    static void require(String device) {
        switch (device) {
            case "cpu", "auto" -> { }
            case "cuda" -> throw new CliFailure("this build has no CUDA backend yet; use --device cpu (or auto)", 2);
            default -> throw new CliFailure("unknown device '" + device + "' (known: cpu, cuda, auto)", 2);
        }
    }
}
