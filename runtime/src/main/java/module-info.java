/**
 * Tessera's runtime: off-heap tensors, define-by-run autograd, the CPU backend and the CUDA backend.
 * The SPI package is exported to the fused-kernels module only.
 */
module dev.tessera.runtime {
    requires static jdk.incubator.vector;
    requires java.logging;
    requires static jdk.management; // the physical memory size (HostMemoryLimit); read from /proc where it is absent
    requires jcuda;
    exports dev.tessera.runtime;
    exports dev.tessera.runtime.spi to dev.tessera.kernels;
    exports dev.tessera.runtime.cuda to dev.tessera.kernels;
}
