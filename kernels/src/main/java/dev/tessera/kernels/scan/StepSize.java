package dev.tessera.kernels.scan;

/**
 * The step size Δ the scan uses: Δ = softplus(dt + dtBias) when asked, else dt + dtBias (Mamba, arXiv 2312.00752 §3.2,
 * eq. 4: Δ = τ_Δ(Parameter + s_Δ(x)) with τ_Δ = softplus). Like Mamba's kernels, softplus is the identity above 20,
 * where log(1 + eˣ) and x agree to float precision and eˣ would only add rounding.
 */
final class StepSize {
    private StepSize() {}

    static final double LINEAR_ABOVE = 20;

    /** Δ from the pre-activation v = dt + dtBias. */
    static double of(double v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return v;
        return Math.log1p(Math.exp(v));
    }

    /** Below this eᵛ, log(1 + eᵛ) is eᵛ − e²ᵛ/2 to well within a float's precision (the next term is e³ᵛ/3). */
    private static final double SERIES_BELOW = 1e-4;

    /**
     * {@link #of} for the F32 kernels, rounded to float: log(1 + eᵛ) through the intrinsic {@code Math.log} (the
     * same code in every JIT tier, as {@code Math.exp}) and, where eᵛ is tiny and 1 + eᵛ would lose it, the series.
     * Within a float rounding of {@code (float) Math.log1p(Math.exp(v))}; {@code Math.log1p} runs in Java (FdLibm)
     * and cost 4 % of an hnet-tiny training step.
     */
    static float ofFloat(float v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return v;
        double e = Math.exp(v);
        return (float) (e < SERIES_BELOW ? e - 0.5 * e * e : Math.log(1 + e));
    }

    /** dΔ/dv: σ(v) for softplus, 1 above the threshold or without softplus. */
    static double derivative(double v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return 1;
        return 1 / (1 + Math.exp(-v));
    }
}
