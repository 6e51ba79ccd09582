/**
 * Flash attention on the CPU (FlashAttention-2, arXiv 2307.08691) with GQA, causal and sliding-window masks, key
 * bias, packed sequences, KV-cache decoding, and Zonkey's probabilistic (existence) attention (arXiv 2601.21768).
 * Public: {@link dev.tessera.kernels.attention.FlashAttention}, {@link dev.tessera.kernels.attention.AttentionOptions},
 * {@link dev.tessera.kernels.attention.ProbabilisticAttention}, {@link dev.tessera.kernels.attention.KvCache} and the
 * oracle {@link dev.tessera.kernels.attention.FlashAttentionReference}; the tiled kernels are package-private.
 */
package dev.tessera.kernels.attention;
