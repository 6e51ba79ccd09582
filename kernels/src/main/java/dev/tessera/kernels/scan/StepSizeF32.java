package dev.tessera.kernels.scan;

import dev.tessera.runtime.spi.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * {@link StepSize} for the F32 kernels, over vectors of positions and one position at a time with the same bits.
 */
final class StepSizeF32 {
    private StepSizeF32() {}

    private static final float LINEAR_ABOVE = (float) StepSize.LINEAR_ABOVE;

    // The F32 kernels compute Δ and dΔ/dv for a whole chunk of positions at once, over vectors: one exponential
    // t = e^−|v| per position, softplus(v) = max(v, 0) + log1p(t) and σ(v) = 1/(1 + t) or t/(1 + t). The scalar forms
    // below repeat the same IEEE operations, so the decoding step (one position) and the sequential kernels get the
    // same bits as the chunked forward, in every JIT tier (no Math.log1p, whose FdLibm code cost 4 % of a training
    // step, and no lanewise LOG, which C2 and the interpreter round differently).
    //
    // log1p(t) for t in [0, 1] as 2·atanh(s) with s = t/(2 + t) in [0, 1/3]: 2s·(1 + s²/3 + s⁴/5 + … + s¹²/13), the
    // first term left out below 1.4e-8 of the sum (a quarter of a float rounding). Within two float roundings of the
    // exact softplus (StepSizeTest).
    private static final float A3 = 1f / 3, A5 = 1f / 5, A7 = 1f / 7, A9 = 1f / 9, A11 = 1f / 11, A13 = 1f / 13;

    /**
     * e^−|v| for each lane, computed once for both {@link #of(FloatVector, FloatVector, boolean)} and
     * {@link #derivative(FloatVector, FloatVector, boolean)}.
     */
    static FloatVector expNegAbs(FloatVector v) { return VectorMath.exp(v.abs().neg()); }

    /** Δ for each lane of the pre-activations v, given t = {@link #expNegAbs}(v) (see {@link #of(float, boolean)}). */
    static FloatVector of(FloatVector v, FloatVector t, boolean softplus) {
        if (!softplus) return v;
        FloatVector s = t.div(t.add(2f)), s2 = s.mul(s), twoS = s.add(s);
        var sp = v.species();
        FloatVector poly = s2.fma(A13, A11);
        poly = poly.fma(s2, FloatVector.broadcast(sp, A9));
        poly = poly.fma(s2, FloatVector.broadcast(sp, A7));
        poly = poly.fma(s2, FloatVector.broadcast(sp, A5));
        poly = poly.fma(s2, FloatVector.broadcast(sp, A3));
        FloatVector log1p = twoS.mul(s2).fma(poly, twoS);
        FloatVector out = v.max(0f).add(log1p);
        return out.blend(v, v.compare(VectorOperators.GT, LINEAR_ABOVE));
    }

    /**
     * Δ = softplus(v) (the identity above 20) or v, for the F32 kernels: the same bits as the corresponding lane of
     * {@link #of(FloatVector, boolean)}. NaN stays NaN; Δ is 0 where e^v underflows.
     */
    static float of(float v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return v;
        float t = VectorMath.exp(-Math.abs(v));
        float s = t / (t + 2f), s2 = s * s, twoS = s + s;
        float poly = Math.fma(s2, A13, A11);
        poly = Math.fma(poly, s2, A9);
        poly = Math.fma(poly, s2, A7);
        poly = Math.fma(poly, s2, A5);
        poly = Math.fma(poly, s2, A3);
        float log1p = Math.fma(twoS * s2, poly, twoS);
        return Math.max(v, 0f) + log1p;
    }

    /** dΔ/dv for each lane, given t = {@link #expNegAbs}(v) (see {@link #derivative(float, boolean)}). */
    static FloatVector derivative(FloatVector v, FloatVector t, boolean softplus) {
        FloatVector one = FloatVector.broadcast(v.species(), 1f);
        if (!softplus) return one;
        VectorMask<Float> positive = v.compare(VectorOperators.GE, 0f);
        FloatVector sigma = one.blend(t, positive.not()).div(t.add(1f));
        return sigma.blend(one, v.compare(VectorOperators.GT, LINEAR_ABOVE));
    }

    /**
     * dΔ/dv for the F32 kernels: σ(v) = 1/(1 + e^−v) as 1/(1 + t) for v ≥ 0 and t/(1 + t) below, t = e^−|v| (so e^−v
     * never overflows); 1 above the threshold or without softplus. The same bits as the vector form's lanes.
     */
    static float derivative(float v, boolean softplus) {
        if (!softplus || v > LINEAR_ABOVE) return 1f;
        float t = VectorMath.exp(-Math.abs(v));
        return (v >= 0f ? 1f : t) / (t + 1f);
    }
}
