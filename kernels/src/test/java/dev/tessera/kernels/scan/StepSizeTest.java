package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StepSizeTest {
    /** The F32 softplus is log1p(eᵛ) rounded to float, give or take one rounding, over the whole range it is used on. */
    @Test
    void floatSoftplusMatchesLog1pWithinAFloatRounding() {
        int differ = 0;
        for (float v = -110f; v <= 25f; v += 0.00731f) {
            float fast = StepSize.ofFloat(v, true);
            float exact = (float) StepSize.of(v, true);
            assertTrue(Math.abs(fast - exact) <= Math.ulp(exact), v + ": " + fast + " vs " + exact);
            if (fast != exact) differ++;
        }
        assertTrue(differ < 50, differ + " of 18,468 values differ in the last bit"); // a rounding tie now and then, not a bias
    }

    @Test
    void seriesBranchAroundItsThresholdAndTheEdges() {
        float atThreshold = (float) Math.log(1e-4);
        for (float v : new float[] {Math.nextDown(atThreshold), atThreshold, Math.nextUp(atThreshold), -87.3f, -104f, -150f, 0f, 19.999f}) {
            float exact = (float) Math.log1p(Math.exp(v));
            assertEquals(exact, StepSize.ofFloat(v, true), Math.ulp(exact), "v = " + v);
        }
        assertEquals(0f, StepSize.ofFloat(-200f, true)); // e^-200 underflows a float: Δ = 0, not NaN
        assertEquals(20.5f, StepSize.ofFloat(20.5f, true));  // linear above 20, as the double form
        assertEquals(-3.25f, StepSize.ofFloat(-3.25f, false)); // no softplus: Δ = dt + bias
        assertTrue(Float.isNaN(StepSize.ofFloat(Float.NaN, true)));
    }
}
