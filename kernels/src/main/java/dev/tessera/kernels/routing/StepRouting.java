package dev.tessera.kernels.routing;

import dev.tessera.runtime.Tensor;

/**
 * The routing decision for one new position of every row of a decoding batch ({@link RoutingState#route}).
 *
 * @param p             [n] boundary probability of each routed row (n = B when every row routes)
 * @param b             [n] BOOL boundary
 * @param c             [n] confidence max(p, 1 − p)
 * @param boundaryRows  the positions j (ascending, into the routed rows) with b[j] = 1: the rows whose inner
 *                      network takes a step now, in the order {@link RoutingState#dechunk} expects their outputs
 */
public record StepRouting(Tensor p, Tensor b, Tensor c, int[] boundaryRows) {
    /** True when some row has a boundary (the inner network has work). */
    public boolean anyBoundary() { return boundaryRows.length > 0; }
}
