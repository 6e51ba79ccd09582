package dev.tessera.kernels.routing;

import dev.tessera.runtime.Tensor;

/**
 * The routing decision for one new position of every row of a decoding batch ({@link RoutingState#route}).
 *
 * @param p             [B] boundary probability
 * @param b             [B] BOOL boundary
 * @param c             [B] confidence max(p, 1 − p)
 * @param boundaryRows  the rows with b = 1, ascending: the rows whose inner network takes a step now, in the order
 *                      {@link RoutingState#dechunk} expects their outputs
 */
public record StepRouting(Tensor p, Tensor b, Tensor c, int[] boundaryRows) {
    /** True when some row has a boundary (the inner network has work). */
    public boolean anyBoundary() { return boundaryRows.length > 0; }
}
