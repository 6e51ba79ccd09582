package dev.tessera.runtime.spi;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A float exponential built only from exactly rounded IEEE operations (add, multiply, fused multiply-add, bit moves),
 * so it gives the same bits in the interpreter, C1 and C2. {@code lanewise(EXP)} does not: C2 calls a vector math
 * library while the other tiers compute {@code Math.exp} per lane, and the two differ in the last bit, which made a
 * model's logits depend on how warm the JIT was. Accuracy: within 1 ulp of the correctly rounded exp (tested over
 * the whole float range).
 *
 * <p>Method: exp(x) = 2^n · e^r with n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2, |r| ≤ ln2/2), e^r by its
 * Taylor polynomial to degree 7 (truncation below 6e-9 relative), and 2^n applied in two halves so that results in
 * the subnormal range and overflow to infinity come out of ordinary float multiplication.
 */
public final class VectorMath {
    private VectorMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693147182464599609375f; // (float) ln 2
    private static final float LN2_LO = -1.904654323148236e-9f;   // ln 2 − LN2_HI
    /** 1.5 · 2^23: adding it rounds a float of magnitude below 2^22 to an integer, kept in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);
    /** Beyond these the result is +inf or 0 anyway; clamping keeps n small enough for the two-half scaling. */
    private static final float X_MIN = -150f, X_MAX = 128f;
    private static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    /** e^x for each lane; NaN stays NaN, −inf gives 0, +inf gives +inf. */
    public static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(X_MIN).min(X_MAX);
        FloatVector t = xc.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        var sp = x.species();
        FloatVector r = n.fma(FloatVector.broadcast(sp, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(sp, -LN2_LO), r);
        FloatVector p = r.fma(C7, C6);
        p = p.fma(r, FloatVector.broadcast(sp, C5));
        p = p.fma(r, FloatVector.broadcast(sp, C4));
        p = p.fma(r, FloatVector.broadcast(sp, C3));
        p = p.fma(r, FloatVector.broadcast(sp, C2));
        p = p.fma(r, FloatVector.broadcast(sp, 1f));
        p = p.fma(r, FloatVector.broadcast(sp, 1f));
        IntVector ni = ((IntVector) t.reinterpretAsInts()).sub(ROUNDER_BITS);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
        IntVector n2 = ni.sub(n1);
        FloatVector s1 = (FloatVector) n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = (FloatVector) n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2); // a NaN lane survives the clamp (max/min propagate NaN) and every step after it
    }

    /** The same computation for one float: the same bits as the corresponding lane of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        float xc = Math.min(Math.max(x, X_MIN), X_MAX);
        float t = Math.fma(xc, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, xc);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, C7, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        int ni = Float.floatToRawIntBits(t) - ROUNDER_BITS;
        int n1 = ni >> 1;
        int n2 = ni - n1;
        return p * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }
}
