/**
 * Modules, optimizers, checkpoints and byte data sets built on the runtime and the fused kernels.
 * Its API package {@code dev.tessera.nn} is exported once it has members.
 */
module dev.tessera.nn {
    requires transitive dev.tessera.runtime;
    requires transitive dev.tessera.kernels;
}
