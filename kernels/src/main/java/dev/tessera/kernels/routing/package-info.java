/**
 * H-Net dynamic chunking (arXiv 2507.07955 §2.2): {@link dev.tessera.kernels.routing.ChunkRouter} (route, chunk,
 * dechunk, ratio loss; padded or packed batches) and {@link dev.tessera.kernels.routing.RoutingState} (batched
 * one-position-at-a-time decoding). Internals: the readable F64 reference (the tests' oracle), the fast F32 kernels,
 * and the ops that wire them into autograd.
 */
package dev.tessera.kernels.routing;
