/** Fused optimizer updates: the AdamW step in one pass over a parameter and its state (CPU and CUDA). */
package dev.tessera.kernels.optim;
