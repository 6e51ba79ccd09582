/**
 * Fused custom kernels with autograd. Each kernel travels with its readable CPU reference,
 * its fast CPU path, its CUDA source in {@code native/cuda/kernels/}, and its tests.
 */
package dev.tessera.kernels;
