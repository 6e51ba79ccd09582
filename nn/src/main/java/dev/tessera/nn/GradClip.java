package dev.tessera.nn;

import dev.tessera.kernels.optim.SquaredNorm;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Gradient clipping by global L2 norm. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient so the global norm is at most {@code maxNorm}; returns the norm before clipping. The sum of
     * squares is {@link SquaredNorm} per device (F64 accumulation; on a GPU one launch per gradient and one wait per
     * call, not one per parameter).
     */
    public static double clipByGlobalNorm(Collection<Parameter> params, double maxNorm) {
        if (maxNorm <= 0) throw new IllegalArgumentException("clip: max norm must be positive, got " + maxNorm);
        double sq = 0;
        try (Grad.Region ng = Grad.noGrad(); Scope s = Scope.open()) {
            Map<Device, List<Tensor>> perDevice = new LinkedHashMap<>();
            for (Parameter p : params) {
                Tensor g = p.grad();
                if (g != null) perDevice.computeIfAbsent(g.device(), d -> new ArrayList<>()).add(g);
            }
            for (List<Tensor> grads : perDevice.values()) sq += SquaredNorm.of(grads);
            double norm = Math.sqrt(sq);
            if (norm > maxNorm && Double.isFinite(norm)) {
                double scale = maxNorm / (norm + 1e-6);
                for (Parameter p : params) if (p.grad() != null) p.grad().affineInPlace(scale, 0);
            }
            return norm;
        }
    }
}
