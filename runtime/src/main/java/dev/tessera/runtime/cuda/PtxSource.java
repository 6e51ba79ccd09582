package dev.tessera.runtime.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.function.Function;

/**
 * Where a module's embedded PTX lives: a name for messages and a resource opener that runs in the owning module.
 * Resource folders of a named module are encapsulated, so the runtime cannot read the fused-kernels module's
 * {@code ptx/} folder itself; that module hands over an opener written in its own code:
 * {@code new PtxSource("dev.tessera.kernels", MyKernels.class::getResourceAsStream)} (paths relative to that class).
 */
public record PtxSource(String name, Function<String, InputStream> opener) {
    /** The runtime's own kernels (native/cuda/runtime), next to {@link CudaDevice}. */
    public static final PtxSource RUNTIME = new PtxSource("dev.tessera.runtime.cuda", CudaDevice.class::getResourceAsStream);

    /** True when the resource exists. */
    boolean exists(String path) {
        try (InputStream in = opener.apply(path)) {
            return in != null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    InputStream open(String path) { return opener.apply(path); }
}
