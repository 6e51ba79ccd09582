package dev.tessera.runtime;

import dev.tessera.runtime.cpu.CpuInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;

/** Facts about the running backends, for {@code tessera info} and logs. */
public final class RuntimeInfo {
    private RuntimeInfo() {}

    /** The active CPU path: SIMD width (or the scalar fallback) and threads. */
    public static String cpuDescription() { return CpuInfo.describe(); }

    /**
     * Whether an NVIDIA driver library is present. Probing {@code libcuda.so.1} through Panama never touches a GPU,
     * so this answers cleanly on machines without one.
     */
    public static String cudaDescription() {
        try (Arena a = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", a);
            return "NVIDIA driver found (libcuda.so.1); the CUDA backend is not in this build yet";
        } catch (IllegalArgumentException e) {
            return "no NVIDIA driver (libcuda.so.1 not found): CPU only";
        }
    }
}
