package dev.tessera.nn;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Tensor;

/** y = x / √(mean(x²) + eps) · w over the last dimension; w starts at 1. */
public final class RMSNorm extends Module {
    private final Parameter weight;
    private final double eps;

    public RMSNorm(int dim, double eps) {
        this.eps = eps;
        this.weight = parameter("weight", new Parameter(Tensor.ones(DType.F32, dim), true));
    }

    public Parameter weight() { return weight; }

    public Tensor forward(Tensor x) { return Functional.rmsNorm(x, weight.value(), eps); }
}
