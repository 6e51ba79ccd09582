package dev.tessera.nn;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Tensor;

/** LayerNorm over the last dimension with a weight (1) and an optional bias (0). */
public final class LayerNorm extends Module {
    private final Parameter weight, bias;
    private final double eps;

    public LayerNorm(int dim, double eps, boolean bias) {
        this.eps = eps;
        this.weight = parameter("weight", new Parameter(Tensor.ones(DType.F32, dim), true));
        this.bias = bias ? parameter("bias", new Parameter(Tensor.zeros(DType.F32, dim), true)) : null;
    }

    public Tensor forward(Tensor x) { return Functional.layerNorm(x, weight.value(), bias == null ? null : bias.value(), eps); }
}
