package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class StepSizeTest {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** The pre-activations checked: −110 to 25 in steps of 0.00731 (18,468 values), past both thresholds. */
    private static float[] range() {
        int n = (int) Math.ceil((25f + 110f) / 0.00731f) + 1;
        float[] v = new float[(n + F.length() - 1) / F.length() * F.length()];
        for (int i = 0; i < v.length; i++) v[i] = -110f + i * 0.00731f;
        return v;
    }

    /** The F32 softplus is log1p(eᵛ) rounded to float, within two roundings, and not biased to one side. */
    @Test
    void floatSoftplusMatchesLog1pWithinTwoFloatRoundings() {
        int differ = 0, above = 0;
        double worst = 0;
        for (float v : range()) {
            float fast = StepSizeF32.of(v, true);
            double exact = StepSize.of(v, true);
            float rounded = (float) exact;
            if (rounded == 0f) {
                assertTrue(fast >= 0f && fast <= Float.MIN_NORMAL, v + ": " + fast);
                continue;
            }
            double ulps = Math.abs(fast - exact) / Math.ulp(rounded);
            worst = Math.max(worst, ulps);
            assertTrue(ulps <= 2, v + ": " + fast + " vs " + exact + " (" + ulps + " ulp)");
            if (fast != rounded) {
                differ++;
                if (fast > rounded) above++;
            }
        }
        assertTrue(differ < 3_000, differ + " of 18,468 values differ from the correctly rounded softplus");
        assertTrue(above > differ / 5 && above < differ * 4 / 5, above + " of " + differ + " differences above: a bias");
    }

    /** dΔ/dv = σ(v) within two float roundings of the double form. */
    @Test
    void floatDerivativeIsTheSigmoidWithinTwoFloatRoundings() {
        for (float v : range()) {
            float fast = StepSizeF32.derivative(v, true);
            double exact = StepSize.derivative(v, true);
            float rounded = (float) exact;
            if (rounded < Float.MIN_NORMAL) {
                assertEquals(exact, fast, Float.MIN_NORMAL, "v = " + v);
                continue;
            }
            assertTrue(Math.abs(fast - exact) <= 2 * Math.ulp(rounded), v + ": " + fast + " vs " + exact);
        }
        assertEquals(1f, StepSizeF32.derivative(20.5f, true)); // linear above 20
        assertEquals(1f, StepSizeF32.derivative(-3f, false));
        assertEquals(0.5f, StepSizeF32.derivative(0f, true));
        assertEquals(0f, StepSizeF32.derivative(-200f, true));
        assertTrue(Float.isNaN(StepSizeF32.derivative(Float.NaN, true)));
    }

    /**
     * The chunked forward computes Δ and dΔ/dv over vectors, the decoding step and the sequential kernels one position
     * at a time: both forms must give the same bits, or a decoded model would drift from its own forward.
     */
    @Test
    void vectorLanesAndScalarFormGiveTheSameBits() {
        float[] v = range();
        float[] extra = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, 20f, Math.nextUp(20f), -87.5f, -104f, -200f};
        float[] all = java.util.Arrays.copyOf(v, v.length + (extra.length + F.length() - 1) / F.length() * F.length());
        System.arraycopy(extra, 0, all, v.length, extra.length);
        float[] d = new float[F.length()], s = new float[F.length()];
        for (boolean softplus : new boolean[] {true, false}) {
            for (int i = 0; i < all.length; i += F.length()) {
                FloatVector x = FloatVector.fromArray(F, all, i);
                FloatVector t = StepSizeF32.expNegAbs(x);
                StepSizeF32.of(x, t, softplus).intoArray(d, 0);
                StepSizeF32.derivative(x, t, softplus).intoArray(s, 0);
                for (int k = 0; k < F.length(); k++) {
                    float at = all[i + k];
                    assertEquals(Float.floatToRawIntBits(StepSizeF32.of(at, softplus)), Float.floatToRawIntBits(d[k]), "Δ at " + at);
                    assertEquals(Float.floatToRawIntBits(StepSizeF32.derivative(at, softplus)), Float.floatToRawIntBits(s[k]), "dΔ/dv at " + at);
                }
            }
        }
    }

    @Test
    void edges() {
        for (float v : new float[] {-87.3f, -104f, -150f, -9.21f, 0f, 1e-3f, -1e-3f, 19.999f}) {
            double exact = Math.log1p(Math.exp(v));
            assertEquals(exact, StepSizeF32.of(v, true), 2 * Math.ulp((float) exact), "v = " + v);
        }
        assertEquals(0f, StepSizeF32.of(-200f, true)); // e^-200 underflows a float: Δ = 0, not NaN
        assertEquals(20.5f, StepSizeF32.of(20.5f, true));  // linear above 20, as the double form
        assertEquals(Float.POSITIVE_INFINITY, StepSizeF32.of(Float.POSITIVE_INFINITY, true));
        assertEquals(0f, StepSizeF32.of(Float.NEGATIVE_INFINITY, true));
        assertEquals(-3.25f, StepSizeF32.of(-3.25f, false)); // no softplus: Δ = dt + bias
        assertTrue(Float.isNaN(StepSizeF32.of(Float.NaN, true)));
    }
}
