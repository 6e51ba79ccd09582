/**
 * Tessera's runtime: off-heap tensors, define-by-run autograd, and the CPU backend.
 * The SPI package is exported to the fused-kernels module only.
 */
module dev.tessera.runtime {
    requires static jdk.incubator.vector;
    requires java.logging;
    exports dev.tessera.runtime;
    exports dev.tessera.runtime.spi to dev.tessera.kernels;
}
