package dev.tessera.kernels.routing;

import dev.tessera.runtime.Tensor;

/**
 * The routing decision of one H-Net stage (arXiv 2507.07955 eq. 4), all [B, L]:
 *
 * @param p boundary probability, differentiable wrt q and k; 1 at every sequence start, 0 at padding
 * @param b boundary indicator (BOOL), b = p > 0.5 and never at padding; not differentiable
 * @param c confidence of the chosen side, c = max(p, 1 − p) (= p where b, 1 − p elsewhere; 1 at padding),
 *          differentiable through p; dechunk's STE multiplies by it
 */
public record Routing(Tensor p, Tensor b, Tensor c) {}
