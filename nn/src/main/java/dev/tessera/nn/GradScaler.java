package dev.tessera.nn;

import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.Collection;

/**
 * Dynamic loss scaling for low-precision (BF16/F16) training: the loss is multiplied by a scale before backward so
 * that small gradients survive the narrow format, gradients are divided by it before the optimizer step, and a step
 * whose gradients overflowed is skipped while the scale backs off. After {@code growthInterval} clean steps in a row
 * the scale grows again. With F32 training it is a no-op when disabled.
 */
public final class GradScaler {
    private final boolean enabled;
    private final double growthFactor, backoffFactor;
    private final int growthInterval;
    private double scale;
    private int cleanSteps;
    private long skipped;

    public GradScaler(double initialScale, double growthFactor, double backoffFactor, int growthInterval, boolean enabled) {
        if (!(initialScale > 0) || !(growthFactor > 1) || !(backoffFactor > 0 && backoffFactor < 1) || growthInterval < 1) {
            throw new IllegalArgumentException("GradScaler: need scale > 0, growth > 1, 0 < backoff < 1, interval >= 1; got " + initialScale
                    + ", " + growthFactor + ", " + backoffFactor + ", " + growthInterval);
        }
        this.scale = initialScale;
        this.growthFactor = growthFactor;
        this.backoffFactor = backoffFactor;
        this.growthInterval = growthInterval;
        this.enabled = enabled;
    }

    /** PyTorch's defaults: scale 2¹⁶, ×2 after 2000 clean steps, ×0.5 on overflow. */
    public static GradScaler defaults(boolean enabled) { return new GradScaler(65536, 2, 0.5, 2000, enabled); }

    public double scale() { return enabled ? scale : 1; }

    /** Steps skipped so far because a gradient was not finite. */
    public long skippedSteps() { return skipped; }

    /** The loss to backpropagate: {@code loss · scale}. */
    public Tensor scaleLoss(Tensor loss) { return enabled ? loss.mul(scale) : loss; }

    /**
     * Unscales the gradients of {@code params}, then steps {@code optimizer} if they are all finite; otherwise skips the
     * step (gradients are left as they are for the caller to zero) and backs off. Returns whether the step ran.
     */
    public boolean step(Optimizer optimizer, Collection<Parameter> params) {
        if (!enabled) {
            optimizer.step();
            return true;
        }
        boolean finite = true;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            for (Parameter p : params) {
                Tensor grad = p.grad();
                if (grad == null) continue;
                grad.affineInPlace(1 / scale, 0);
                // Σ g·0 is NaN exactly when some g is NaN or infinite
                if (finite && !Double.isFinite(grad.mul(0).sum().item())) finite = false;
            }
        }
        if (!finite) {
            scale *= backoffFactor;
            cleanSteps = 0;
            skipped++;
            return false;
        }
        optimizer.step();
        if (++cleanSteps >= growthInterval) {
            scale *= growthFactor;
            cleanSteps = 0;
        }
        return true;
    }
}
