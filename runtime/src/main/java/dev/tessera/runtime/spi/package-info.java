/**
 * The kernel interface: what the fused-kernels module may use of the runtime (raw memory of tensors,
 * custom autograd functions, the CPU pool). Exported to {@code dev.tessera.kernels} only.
 */
package dev.tessera.runtime.spi;
