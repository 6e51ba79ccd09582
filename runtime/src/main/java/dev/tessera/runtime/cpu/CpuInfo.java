package dev.tessera.runtime.cpu;

import java.lang.System.Logger.Level;

/**
 * Which CPU path is active. The Vector API module is optional: without {@code --add-modules jdk.incubator.vector}
 * every kernel falls back to scalar code, and this class says so once, loudly.
 */
public final class CpuInfo {
    /** True when {@code jdk.incubator.vector} is present and kernels use SIMD. */
    public static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()
            && !Boolean.getBoolean("tessera.scalar");
    private static volatile boolean logged;

    private CpuInfo() {}

    /** The vector width in bits the kernels use, or 0 on the scalar path. */
    public static int vectorBits() { return VECTOR ? VectorWidth.bits() : 0; }

    /** One line describing the active CPU path. */
    public static String describe() {
        return VECTOR
                ? "Vector API, " + vectorBits() + "-bit vectors (" + vectorBits() / 32 + " floats), " + CpuPool.threads() + " threads"
                : "SCALAR fallback (jdk.incubator.vector is missing: add --add-modules jdk.incubator.vector for SIMD), "
                        + CpuPool.threads() + " threads";
    }

    /** Logs the active path the first time a kernel runs. */
    public static void logOnce() {
        if (logged) return;
        synchronized (CpuInfo.class) {
            if (logged) return;
            logged = true;
            System.Logger log = System.getLogger("dev.tessera.runtime");
            log.log(VECTOR ? Level.INFO : Level.WARNING, "Tessera CPU backend: " + describe());
        }
    }

    /** Isolated so that this class loads even when the vector module is absent. */
    private static final class VectorWidth {
        static int bits() { return jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize(); }
    }
}
