package dev.tessera.nn;

import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.Collection;

/** Gradient clipping by global L2 norm. */
public final class GradClip {
    private GradClip() {}

    /** Scales every gradient so the global norm is at most {@code maxNorm}; returns the norm before clipping. */
    public static double clipByGlobalNorm(Collection<Parameter> params, double maxNorm) {
        if (maxNorm <= 0) throw new IllegalArgumentException("clip: max norm must be positive, got " + maxNorm);
        double sq = 0;
        try (Grad.Region ng = Grad.noGrad(); Scope s = Scope.open()) {
            for (Parameter p : params) {
                Tensor g = p.grad();
                if (g != null) sq += g.mul(g).sum().item();
            }
            double norm = Math.sqrt(sq);
            if (norm > maxNorm && Double.isFinite(norm)) {
                double scale = maxNorm / (norm + 1e-6);
                for (Parameter p : params) if (p.grad() != null) p.grad().affineInPlace(scale, 0);
            }
            return norm;
        }
    }
}
