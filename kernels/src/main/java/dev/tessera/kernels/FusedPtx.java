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
}
