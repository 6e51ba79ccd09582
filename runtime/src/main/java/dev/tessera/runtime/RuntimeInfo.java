package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.List;

import dev.tessera.runtime.cpu.CpuInfo;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaProbe;
import dev.tessera.runtime.cuda.Cublas;
import dev.tessera.runtime.cuda.PtxModules;
import dev.tessera.runtime.cuda.PtxSource;

/** Facts about the running backends, for {@code tessera info} and logs. */
public final class RuntimeInfo {
    private RuntimeInfo() {}

    /** The active CPU path: SIMD width (or the scalar fallback) and threads. */
    public static String cpuDescription() { return CpuInfo.describe(); }

    /**
     * The CUDA driver and devices, or why CUDA is unavailable (one line). The driver is probed through Panama
     * first, so this answers cleanly on machines without a GPU.
     */
    public static String cudaDescription() {
        CudaProbe.Result r = CudaProbe.result();
        if (!r.available()) return r.reason() + ": CPU only";
        List<String> parts = new ArrayList<>();
        parts.add(r.describe());
        for (int i = 0; i < r.deviceCount(); i++) {
            try {
                CudaDevice d = CudaDevice.get(i);
                parts.add("cuda:" + i + " " + d.name() + " (sm_" + d.computeCapability() + ", " + d.multiprocessorCount() + " SMs, "
                        + (d.totalMemory() >> 20) + " MiB)");
            } catch (RuntimeException e) {
                parts.add("cuda:" + i + " unusable: " + e.getMessage());
            }
        }
        return String.join("; ", parts);
    }

    /** Why CUDA cannot be used here (one line), or null when a CUDA device is available. */
    public static String cudaUnavailableReason() { return CudaProbe.result().reason(); }

    /** Why this device cannot be used, or null when it can (the CPU always can; cuda:N when it is open or exists). */
    public static String unavailableReason(Device device) {
        return device.kind() == Device.Kind.CPU ? null : CudaDevice.unavailableReason(device.index());
    }

    /** Where cuBLAS was found, or why not. */
    public static String cublasDescription() {
        Cublas.Probe p = Cublas.probe();
        return p.available() ? p.path() : p.reason();
    }

    /** The runtime's embedded CUDA kernel modules, or a note that this build has none (built without nvcc). */
    public static String kernelsDescription() {
        List<String> m = PtxModules.index(PtxSource.RUNTIME);
        return m.isEmpty() ? "none embedded (built without nvcc)" : m.size() + " PTX modules (" + String.join(", ", m) + ")";
    }

    /** The host memory CPU tensors may take, and where that limit comes from (see {@link MemoryStats#cpuLimitBytes}). */
    public static String hostMemoryDescription() {
        long limit = HostMemoryLimit.bytes();
        return limit == Long.MAX_VALUE ? "no limit (" + HostMemoryLimit.describe() + ")"
                : "tensors may take " + DeviceMemoryStats.human(limit) + " (" + HostMemoryLimit.describe() + ")";
    }

    /** Memory statistics of a device's caching allocator (the host's for the CPU: {@link MemoryStats#cpuStats}). */
    public static DeviceMemoryStats memory(Device device) {
        if (device.isCpu()) return MemoryStats.cpuStats();
        return CudaDevice.get(device.index()).memoryStats();
    }

    /** Returns every cached block of a CUDA device to the driver. */
    public static void emptyCache(Device device) {
        if (device.isCpu()) {
            MemoryStats.emptyCpuCache();
            return;
        }
        CudaDevice.get(device.index()).allocator().emptyCache();
    }
}
