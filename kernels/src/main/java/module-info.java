/** Fused custom ops with autograd: selective scan, flash attention, chunk routing, probabilistic attention. */
module dev.tessera.kernels {
    requires transitive dev.tessera.runtime;
    requires jdk.incubator.vector;
    exports dev.tessera.kernels;
    exports dev.tessera.kernels.routing;
}
