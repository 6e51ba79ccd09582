/** Fused custom ops with autograd: selective scan, flash attention, chunk routing, probabilistic attention. */
module dev.tessera.kernels {
    requires transitive dev.tessera.runtime;
    exports dev.tessera.kernels;
}
