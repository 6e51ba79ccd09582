package dev.tessera.models.cli;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.RuntimeInfo;

/**
 * The {@code --device} option: {@code cpu}, {@code cuda} (or {@code cuda:N}) or {@code auto}, which takes the first
 * GPU when CUDA is usable and the CPU otherwise. Asking for CUDA where there is none fails with one line that says why.
 */
final class DeviceChoice {
    private DeviceChoice() {}

    static Device resolve(String device) {
        String d = device.trim().toLowerCase(java.util.Locale.ROOT);
        if (d.equals("auto")) return RuntimeInfo.cudaUnavailableReason() == null ? Device.cuda(0) : Device.cpu();
        if (d.equals("cpu")) return Device.cpu();
        if (d.equals("cuda") || d.startsWith("cuda:")) {
            Device parsed;
            try {
                parsed = Device.parse(d);
            } catch (IllegalArgumentException e) {
                throw new CliFailure(e.getMessage(), 2);
            }
            String unavailable = RuntimeInfo.unavailableReason(parsed);
            if (unavailable != null) throw new CliFailure("--device " + device + ": " + unavailable, 2);
            return parsed;
        }
        throw new CliFailure("unknown device '" + device + "' (known: cpu, cuda, cuda:N, auto)", 2);
    }
}
