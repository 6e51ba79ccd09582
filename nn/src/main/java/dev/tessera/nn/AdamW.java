package dev.tessera.nn;

import dev.tessera.kernels.optim.AdamWStep;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Adam with decoupled weight decay (Loshchilov &amp; Hutter, arXiv 1711.05101):
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p·(1 − lr·λ) − lr·m̂/(√v̂ + ε) with bias-corrected m̂, v̂.
 * Parameters flagged no-weight-decay (biases, norm weights) are not decayed. Contiguous F32/F64 parameters take the
 * fused {@link AdamWStep} (one pass over w, g, m, v; on a GPU one launch per 48 parameters); others (BF16 weights) the same
 * update from runtime ops.
 */
public final class AdamW extends Optimizer {
    private final double beta1, beta2, eps, weightDecay;

    public AdamW(List<Group> groups, double lr, double beta1, double beta2, double eps, double weightDecay) {
        super(groups, lr);
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) {
            throw new IllegalArgumentException("AdamW: betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** Defaults β = (0.9, 0.95), ε = 1e-8. */
    public AdamW(List<Group> groups, double lr, double weightDecay) { this(groups, lr, 0.9, 0.95, 1e-8, weightDecay); }

    @Override
    public void step() {
        step++;
        double c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
        List<AdamWStep.Update> fused = new ArrayList<>();
        try (Grad.Region ng = Grad.noGrad()) {
            for (Group g : groups) {
                double glr = lr * g.lrMultiplier();
                for (var e : entries(g)) {
                    Parameter p = e.getValue();
                    Tensor grad = p.grad();
                    if (grad == null) continue;
                    Tensor m = stateFor("exp_avg." + e.getKey(), p), v = stateFor("exp_avg_sq." + e.getKey(), p);
                    Tensor w0 = p.value();
                    double decay = weightDecay != 0 && !p.noWeightDecay() ? weightDecay : 0;
                    if (AdamWStep.supports(w0, grad, m, v)) { // one pass per parameter, one launch per 48 on a GPU
                        fused.add(new AdamWStep.Update(w0, grad, m, v, glr, decay));
                        continue;
                    }
                    try (Scope s = Scope.open()) {
                        m.affineInPlace(beta1, 0).addInPlace(grad.mul(1 - beta1));
                        v.affineInPlace(beta2, 0).addInPlace(grad.mul(grad).mul(1 - beta2));
                        Tensor w = p.value();
                        if (weightDecay != 0 && !p.noWeightDecay()) w.affineInPlace(1 - glr * weightDecay, 0);
                        Tensor denom = v.div(c2).sqrt().add(eps);
                        w.addInPlace(m.div(denom).mul(-glr / c1));
                    }
                }
            }
            AdamWStep.applyAll(fused, beta1, beta2, eps, c1, c2);
        }
    }
}
