package dev.tessera.kernels.scan;

/**
 * The step size Δ the scan uses: Δ = softplus(dt + dtBias) when asked, else dt + dtBias (Mamba, arXiv 2312.00752 §3.2,
 * eq. 4: Δ = τ_Δ(Parameter + s_Δ(x)) with τ_Δ = softplus). Like Mamba's kernels, softplus is the identity above 20,
 * where log(1 + eˣ) and x agree to float precision and eˣ would only add rounding. The F32 kernels use
 * {@link StepSizeF32}; this class is the float64 reference's, and loads without {@code jdk.incubator.vector}.
 */
final class StepSize {
    private StepSize() {}

    static final double LINEAR_ABOVE = 20;

    /** Δ from the pre-activation v = dt + dtBias. */
    static double of(double v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return v;
        return Math.log1p(Math.exp(v));
    }

    /** dΔ/dv: σ(v) for softplus, 1 above the threshold or without softplus. */
    static double derivative(double v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return 1;
        return 1 / (1 + Math.exp(-v));
    }
}
