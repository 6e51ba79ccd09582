package dev.tessera.runtime.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Finds the NVIDIA driver through Panama before anything touches JCuda, whose JNI library would fail to link
 * without {@code libcuda.so.1}. The result is one line that says why CUDA is unavailable, or the driver version
 * and device count. Set {@code TESSERA_CUDA=off} to pretend there is no GPU.
 */
public final class CudaProbe {
    /** What the probe found. {@code reason} is null exactly when CUDA is usable. */
    public record Result(String reason, int driverVersion, int deviceCount) {
        public boolean available() { return reason == null; }

        /** "CUDA 13.0, 1 device" or the reason. */
        public String describe() {
            if (!available()) return reason;
            return "CUDA driver " + driverVersion / 1000 + "." + driverVersion % 1000 / 10 + ", " + deviceCount + (deviceCount == 1 ? " device" : " devices");
        }
    }

    private static volatile Result cached;

    private CudaProbe() {}

    /** The probe's result, computed once per process. */
    public static Result result() {
        Result r = cached;
        if (r == null) {
            synchronized (CudaProbe.class) {
                if (cached == null) cached = run(System.getenv("TESSERA_CUDA"), "libcuda.so.1");
                r = cached;
            }
        }
        return r;
    }

    /** Probes a driver library by name (tests pass a name that does not exist). */
    static Result run(String setting, String library) {
        if (setting != null && setting.equalsIgnoreCase("off")) return new Result("CUDA disabled by TESSERA_CUDA=off", 0, 0);
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return new Result("no NVIDIA driver: " + library + " not found (no GPU on this machine, or the driver is not installed)", 0, 0);
        } catch (IllegalCallerException e) {
            return new Result("native access is disabled: run with --enable-native-access=dev.tessera.runtime (or ALL-UNNAMED)", 0, 0);
        }
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle init = linker.downcallHandle(lib.find("cuInit").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            MethodHandle version = linker.downcallHandle(lib.find("cuDriverGetVersion").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            MethodHandle count = linker.downcallHandle(lib.find("cuDeviceGetCount").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
                int rc = (int) version.invokeExact(out);
                int driver = rc == 0 ? out.get(ValueLayout.JAVA_INT, 0) : 0;
                rc = (int) init.invokeExact(0);
                if (rc == CudaErrors.CUDA_ERROR_NO_DEVICE) return new Result("NVIDIA driver found but no CUDA device is visible", driver, 0);
                if (rc != 0) return new Result("the NVIDIA driver failed to initialise: cuInit returned " + rc + " (" + initMeaning(rc) + ")", driver, 0);
                rc = (int) count.invokeExact(out);
                int n = rc == 0 ? out.get(ValueLayout.JAVA_INT, 0) : 0;
                if (n == 0) return new Result("NVIDIA driver found but no CUDA device is visible", driver, 0);
                return new Result(null, driver, n);
            }
        } catch (Throwable t) {
            return new Result("the NVIDIA driver could not be queried: " + t, 0, 0);
        }
    }

    private static String initMeaning(int rc) {
        return switch (rc) {
            case 34 -> "CUDA_ERROR_STUB_LIBRARY: a stub libcuda was loaded instead of the real driver";
            case 35 -> "CUDA_ERROR_INSUFFICIENT_DRIVER: the driver is older than this CUDA";
            case 3 -> "CUDA_ERROR_NOT_INITIALIZED";
            case 999 -> "CUDA_ERROR_UNKNOWN: often a driver/kernel-module mismatch";
            default -> "see cuda.h";
        };
    }
}
