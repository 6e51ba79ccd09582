/** Fused custom ops: selective scan, flash attention, chunk routing, probabilistic attention, gated RMSNorm (with autograd), and decoding steps. */
module dev.tessera.kernels {
    requires transitive dev.tessera.runtime;
    requires static jdk.incubator.vector;
    exports dev.tessera.kernels to dev.tessera.models; // FusedPtx.description() for `tessera info`
    exports dev.tessera.kernels.attention;
    exports dev.tessera.kernels.routing;
    exports dev.tessera.kernels.scan;
    exports dev.tessera.kernels.swiglu;
    exports dev.tessera.kernels.conv;
    exports dev.tessera.kernels.norm;
    exports dev.tessera.kernels.rotary;
    exports dev.tessera.kernels.optim;
    exports dev.tessera.kernels.testing;
}
