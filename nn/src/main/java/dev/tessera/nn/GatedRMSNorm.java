package dev.tessera.nn;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Tensor;

/**
 * Mamba-2's gated RMSNorm with the gate applied before normalising (norm_before_gate = false):
 * y = RMSNorm(x ⊙ SiLU(z)) · w.
 */
public final class GatedRMSNorm extends Module {
    private final Parameter weight;
    private final double eps;

    public GatedRMSNorm(int dim, double eps) {
        this.eps = eps;
        this.weight = parameter("weight", new Parameter(Tensor.ones(DType.F32, dim), true));
    }

    public Parameter weight() { return weight; }

    public Tensor forward(Tensor x, Tensor z) { return Functional.rmsNorm(x.mul(z.silu()), weight.value(), eps); }
}
