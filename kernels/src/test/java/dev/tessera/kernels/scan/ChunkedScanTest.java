package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The chunked SSD forward ({@link ChunkedScan}, chunk Q) against the float64 reference around chunk boundaries:
 * lengths Q−1, Q, Q+1, 2Q+3, packed sequences that start inside a chunk, odd P and N (padding), groups with
 * several heads, and step sizes that change by orders of magnitude inside one chunk. Gradients are compared too: for
 * a scalar A they come from the chunked backward ({@link ChunkedScanBackward}), whose state gradient crosses every
 * chunk boundary and whose tasks split a group's heads into slices.
 */
class ChunkedScanTest {
    private static final int Q = ChunkedScan.Q;

    @Test
    void theChunkedPathIsTheOneUnderTest() {
        ScanFixture f = new ScanFixture(40, 1, 10, 2, 3, 1, 4).draw();
        assertTrue(ChunkedScan.enabled);
        assertTrue(ChunkedScan.applies(ScanProblem.of("t", f.f32[0], f.f32[1], f.f32[2], f.f32[3], f.f32[4], null)));
        assertTrue(ChunkedScanBackward.enabled);
        assertTrue(ChunkedScanBackward.applies(ScanProblem.of("t", f.f32[0], f.f32[1], f.f32[2], f.f32[3], f.f32[4], null)));
    }

    /**
     * Several chunk boundaries for the state gradient; six heads of one group cut into slices of two per task (one
     * slice empty), and two groups of two heads with one head per task (dB, dC summed over slices).
     */
    @Test
    void gradientsAcrossManyChunksWithSlicedHeads() {
        SelectiveScanFastTest.compare("L=4Q+7, H=6", new ScanFixture(49, 1, 4 * Q + 7, 6, 5, 1, 9).all().draw());
        SelectiveScanFastTest.compare("L=3Q+1, H=4, G=2", new ScanFixture(52, 1, 3 * Q + 1, 4, 3, 2, 17).all().draw());
    }

    /** An initial state and a gate without a final state; sequences of length 1 and Q, and one ending on a chunk edge. */
    @Test
    void gradientsWithPackedEdgesAndNoFinalState() {
        int l = 3 * Q + 2;
        int[] cu = {0, 1, Q + 1, Q + 2, 2 * Q + 2, l};
        ScanFixture f = new ScanFixture(50, 1, l, 2, 3, 1, 4).all().packed(cu);
        f.withFinal = false;
        SelectiveScanFastTest.compare("packed edges, no final", f.draw());
    }

    /** Extreme step sizes with every option: the decays' gradients (ψ) where steps keep or forget everything. */
    @Test
    void gradientsWithExtremeStepsAndEveryOption() {
        ScanFixture f = new ScanFixture(51, 1, 2 * Q + 5, 2, 4, 1, 8);
        f.withD = f.withZ = f.withInit = f.withFinal = true;
        try (Scope s = Scope.open()) {
            f.draw();
            Generator g = new Generator(5);
            f.f32[1] = Tensor.rand(g, 1, 2 * Q + 5, 2).mul(8).add(-6).mul(Math.log(10)).exp();
            SelectiveScanFastTest.compare("dt 1e-6..1e2, all", f);
        }
    }

    @Test
    void lengthsAroundTheChunk() {
        int[] lengths = {Q - 1, Q, Q + 1, 2 * Q + 3};
        for (int i = 0; i < lengths.length; i++) {
            SelectiveScanFastTest.compare("L=" + lengths[i], new ScanFixture(41 + i, 2, lengths[i], 4, 5, 2, 6).all().draw());
        }
    }

    @Test
    void plainLengthsAroundTheChunk() {
        for (int l : new int[] {Q - 1, Q + 1}) {
            SelectiveScanFastTest.compare("plain L=" + l, new ScanFixture(45, 1, l, 3, 16, 1, 16).draw());
        }
    }

    @Test
    void packedSequencesStartingInsideChunks() {
        int l = 2 * Q + 40;
        int[] cu = {0, 10, 10, Q + 11, Q + 12, 2 * Q + 30, l};
        SelectiveScanFastTest.compare("packed mid-chunk", new ScanFixture(46, 1, l, 2, 4, 1, 7).all().packed(cu).draw());
    }

    @Test
    void stepSizesSpanningOrdersOfMagnitudeInOneChunk() {
        ScanFixture f = new ScanFixture(47, 1, Q + 9, 2, 4, 1, 8);
        f.withD = f.withFinal = true;
        try (Scope s = Scope.open()) {
            f.draw();
            Generator g = new Generator(3);
            // log-uniform over [1e-6, 1e2]: some steps keep everything, some forget it all (exp(−50) underflows)
            f.f32[1] = Tensor.rand(g, 1, Q + 9, 2).mul(8).add(-6).mul(Math.log(10)).exp();
            SelectiveScanFastTest.compare("dt 1e-6..1e2", f);
        }
    }

    /**
     * Steady strong decays (Δ·A from about −1 to −3 per step): the products inside a chunk sink through the subnormal
     * floats, which the kernels flush to 0 below 1e-30 (ChunkedScan.TINY); values and gradients still match float64.
     */
    @Test
    void decaysSinkingThroughTheSubnormalRange() {
        ScanFixture f = new ScanFixture(49, 2, Q + 17, 3, 4, 1, 8);
        f.withD = f.withFinal = true;
        try (Scope s = Scope.open()) {
            f.draw();
            f.f32[ScanProblem.DT] = Tensor.rand(new Generator(4), 2, Q + 17, 3).mul(0.2).add(0.1);
            f.f32[ScanProblem.A] = Tensor.of(new float[] {-10f, -16f, -3f}, 3);
            SelectiveScanFastTest.compare("decays through subnormals", f);
        }
        org.junit.jupiter.api.Assertions.assertEquals(0f, ChunkedScan.flushTiny(1e-31f));
        org.junit.jupiter.api.Assertions.assertEquals(2e-30f, ChunkedScan.flushTiny(2e-30f));
    }

    @Test
    void forgettingEverythingLeavesTheLastInput() {
        try (Scope s = Scope.open()) {
            ScanFixture f = new ScanFixture(48, 1, Q + 3, 1, 3, 1, 5).draw();
            f.withFinal = true;
            Tensor[] in = f.inputs(DType.F32);
            in[1] = Tensor.full(1e10, DType.F32, 1, Q + 3, 1);
            in[2] = Tensor.full(-1e30, DType.F32, 1);
            ScanResult r = f.run(in);
            for (double d : r.y().toDoubleArray()) assertTrue(Double.isFinite(d));
            Tensor expect = in[0].select(1, Q + 2).unsqueeze(-1).mul(in[3].select(1, Q + 2).unsqueeze(1)).mul(1e10);
            Close.assertClose("state", expect, r.finalState(), 1e-6);
        }
    }
}
