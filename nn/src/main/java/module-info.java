/** Modules, optimizers, checkpoints and byte data sets built on the runtime and the fused kernels. */
module dev.tessera.nn {
    requires transitive dev.tessera.runtime;
    requires transitive dev.tessera.kernels;
    requires com.fasterxml.jackson.databind;
    requires me.tongfei.progressbar;
    requires org.knowm.xchart;
    requires java.desktop;
    exports dev.tessera.nn;
}
