package dev.tessera.runtime.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class VectorMathTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private static float[] vectorExp(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i += S.length()) VectorMath.exp(FloatVector.fromArray(S, x, i)).intoArray(out, i);
        return out;
    }

    /** Every float in [-105, 90] at a stride of 1021 bit patterns (about two million values), both signs. */
    @Test
    void withinOneUlpOfTheCorrectlyRoundedExpAndTheScalarFormGivesTheSameBits() {
        int lanes = S.length();
        float[] buf = new float[1 << 16];
        int n = 0;
        double worst = 0;
        float worstAt = 0;
        long checked = 0;
        for (int sign = 0; sign < 2; sign++) {
            float limit = sign == 0 ? 90f : 105f;
            for (int bits = 0; ; bits += 1021) {
                float v = Float.intBitsToFloat(bits);
                if (v > limit) break;
                buf[n++] = sign == 0 ? v : -v;
                if (n == buf.length) { worst = Math.max(worst, check(buf, n)); checked += n; n = 0; }
            }
        }
        while (n % lanes != 0) buf[n++] = 0f;
        worst = Math.max(worst, check(buf, n));
        checked += n;
        assertTrue(checked > 1_000_000, "checked " + checked);
        assertTrue(worst <= 1.0, "worst error " + worst + " ulp");
    }

    private static double check(float[] x, int n) {
        float[] got = vectorExp(java.util.Arrays.copyOf(x, n));
        double worst = 0;
        for (int i = 0; i < n; i++) {
            float scalar = VectorMath.exp(x[i]);
            if (Float.floatToRawIntBits(scalar) != Float.floatToRawIntBits(got[i])) {
                fail("lane and scalar differ at x=" + x[i] + ": " + scalar + " vs " + got[i]);
            }
            double exact = Math.exp(x[i]);
            float rounded = (float) exact;
            if (Float.isInfinite(rounded)) {
                assertTrue(Float.isInfinite(got[i]) || got[i] == Float.MAX_VALUE, "overflow at " + x[i]);
                continue;
            }
            double err = Math.abs(got[i] - exact) / Math.ulp(rounded);
            if (err > worst) worst = err;
        }
        return worst;
    }

    @Test
    void specialValues() {
        float[] x = new float[Math.max(S.length(), 8)];
        float[] in = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 89f, -104f, -100f};
        System.arraycopy(in, 0, x, 0, in.length);
        float[] got = new float[x.length];
        for (int i = 0; i < x.length; i += S.length()) {
            float[] chunk = java.util.Arrays.copyOfRange(x, i, i + S.length());
            float[] r = vectorExp(chunk);
            System.arraycopy(r, 0, got, i, Math.min(r.length, got.length - i));
        }
        assertTrue(Float.isNaN(got[0]) && Float.isNaN(VectorMath.exp(Float.NaN)), "NaN stays NaN");
        assertEquals(Float.POSITIVE_INFINITY, got[1]);
        assertEquals(0f, got[2]);
        assertEquals(1f, got[3]);
        assertEquals(1f, got[4]);
        assertEquals(Float.POSITIVE_INFINITY, got[5], "exp(89) overflows float");
        assertEquals(0f, got[6], "exp(-104) underflows to 0");
        assertEquals((float) Math.exp(-100), got[7], Float.MIN_VALUE, "subnormal result");
        assertTrue(got[7] > 0);
    }
}
