package dev.tessera.kernels;

import dev.tessera.runtime.cuda.PtxSource;

/**
 * The fused kernels' embedded PTX (native/cuda/kernels/*.cu, built into dev/tessera/kernels/ptx/). The opener is
 * this module's own code, because the runtime may not read this module's encapsulated resource folders.
 */
public final class FusedPtx {
    /** Pass to {@code CudaDevice.kernel(FusedPtx.SOURCE, module, function)}. */
    public static final PtxSource SOURCE = new PtxSource("dev.tessera.kernels", FusedPtx.class::getResourceAsStream);

    private FusedPtx() {}

    /** What {@code tessera info} says about the fused kernels: the PTX modules embedded in this build. */
    public static String description() {
        java.util.List<String> m = dev.tessera.runtime.cuda.PtxModules.index(SOURCE);
        return m.isEmpty() ? "none embedded (built without nvcc)" : m.size() + " PTX modules (" + String.join(", ", m) + ")";
    }
}
