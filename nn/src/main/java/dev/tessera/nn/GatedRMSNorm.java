package dev.tessera.nn;

import dev.tessera.kernels.norm.GatedRmsNorm;
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

    /**
     * The fused kernel ({@link GatedRmsNorm}) when x, z and the weight share a dtype; otherwise (mixed precision) the
     * same math from runtime ops, which promote.
     */
    public Tensor forward(Tensor x, Tensor z) {
        Tensor w = weight.value();
        if (x.dtype() == z.dtype() && x.dtype() == w.dtype() && (x.dtype() == DType.F32 || x.dtype() == DType.F64 || !x.device().isCpu())) {
            return GatedRmsNorm.apply(x, z, w, eps);
        }
        return Functional.rmsNorm(x.mul(z.silu()), w, eps);
    }
}
