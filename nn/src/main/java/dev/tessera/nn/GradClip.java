package dev.tessera.nn;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/** Gradient clipping by global L2 norm. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales every gradient so the global norm is at most {@code maxNorm}; returns the norm before clipping. Each
     * gradient's sum of squares is added in F64 on its own device and read once per device: on a GPU one wait per
     * call, not one per parameter.
     */
    public static double clipByGlobalNorm(Collection<Parameter> params, double maxNorm) {
        if (maxNorm <= 0) throw new IllegalArgumentException("clip: max norm must be positive, got " + maxNorm);
        double sq = 0;
        try (Grad.Region ng = Grad.noGrad(); Scope s = Scope.open()) {
            Map<Device, Tensor> perDevice = new LinkedHashMap<>();
            for (Parameter p : params) {
                Tensor g = p.grad();
                if (g != null) perDevice.merge(g.device(), g.mul(g).sum().to(DType.F64), Tensor::add);
            }
            for (Tensor t : perDevice.values()) sq += t.item();
            double norm = Math.sqrt(sq);
            if (norm > maxNorm && Double.isFinite(norm)) {
                double scale = maxNorm / (norm + 1e-6);
                for (Parameter p : params) if (p.grad() != null) p.grad().affineInPlace(scale, 0);
            }
            return norm;
        }
    }
}
