package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Packed sequences through the layers: a batch of three documents packed into one row (cuSeqlens) gives the same
 * outputs, input gradients and parameter gradients as running each document alone, for mixed, attention-only and
 * Mamba-only stacks. Float64, so the comparison can be tight.
 */
class PackedSequencesTest {
    // Lengths 5, 1, 7: the middle document is shorter than the conv width (4), the last longer than the window.
    private static final int[] CU = {0, 5, 6, 13};
    private static final int DIM = 16;

    private static Isotropic.Config config(int window) { return new Isotropic.Config(DIM, 32, 2, 4, window, 8, 4, 2, 8, 1); }

    @Test
    void mixedStackPackedEqualsSeparate() { assertPackedEqualsSeparate("T1m1M1", -1); }

    @Test
    void attentionOnlyStackPackedEqualsSeparate() { assertPackedEqualsSeparate("t1T1", -1); }

    @Test
    void slidingWindowAttentionPackedEqualsSeparate() { assertPackedEqualsSeparate("T1", 2); }

    @Test
    void mambaOnlyStackPackedEqualsSeparate() { assertPackedEqualsSeparate("m1M1", -1); }

    private static void assertPackedEqualsSeparate(String layout, int window) {
        int len = CU[CU.length - 1];
        try (Isotropic s = new Isotropic(layout, config(window), new Generator(5)); Scope sc = Scope.open()) {
            s.castTo(DType.F64);
            Generator g = new Generator(6);
            Tensor x = Tensor.randn(g, 1, len, DIM).to(DType.F64).requiresGrad(true);
            Tensor proj = Tensor.randn(g, 1, len, DIM).to(DType.F64);
            Tensor y = s.forward(x, CU);
            y.mul(proj).sum().backward();
            var packedGrads = new java.util.LinkedHashMap<String, double[]>();
            s.namedParameters().forEach((n, p) -> packedGrads.put(n, p.grad().toDoubleArray()));
            s.zeroGrad();

            // The documents one by one: parameter gradients accumulate over them, as they must equal the packed sum.
            for (int d = 0; d + 1 < CU.length; d++) {
                int start = CU[d], n = CU[d + 1] - CU[d];
                Tensor xd = x.detach().narrow(1, start, n).clone().requiresGrad(true);
                Tensor yd = s.forward(xd);
                yd.mul(proj.narrow(1, start, n)).sum().backward();
                close(layout + " doc " + d + " output", yd.toDoubleArray(), y.detach().narrow(1, start, n).toDoubleArray());
                close(layout + " doc " + d + " dx", xd.grad().toDoubleArray(), x.grad().narrow(1, start, n).toDoubleArray());
            }
            s.namedParameters().forEach((n, p) -> close(layout + " d " + n, p.grad().toDoubleArray(), packedGrads.get(n)));
        }
    }

    @Test
    void packingIsNotANoOp() {
        // Guards the test above: the same packed row without cuSeqlens differs after the first document.
        try (Isotropic s = new Isotropic("T1m1", config(-1), new Generator(5)); Scope sc = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(8), 1, 13, DIM);
            double[] packed = s.forward(x, CU).toDoubleArray(), plain = s.forward(x).toDoubleArray();
            for (int i = 0; i < 5 * DIM; i++) assertEquals(plain[i], packed[i], 1e-6, "the first document is unchanged");
            double diff = 0;
            for (int i = 5 * DIM; i < packed.length; i++) diff = Math.max(diff, Math.abs(plain[i] - packed[i]));
            assertTrue(diff > 1e-3, "later documents change, max diff " + diff);
        }
    }

    @Test
    void rotaryPositionsRestartPerDocument() {
        assertArrayEquals(new int[] {0, 1, 2, 0, 0, 1}, RotaryEmbedding.positions(new int[] {0, 3, 3, 4, 6}, 6));
        assertThrows(IllegalArgumentException.class, () -> RotaryEmbedding.positions(new int[] {0, 5}, 6));
        assertThrows(IllegalArgumentException.class, () -> RotaryEmbedding.positions(new int[] {0, 4, 2, 6}, 6));
    }

    @Test
    void mambaRefusesAPackedBatchOfTwo() {
        try (Mamba2 m = new Mamba2(DIM, 8, 4, 2, 8, 1, new Generator(1)); Scope sc = Scope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(2, 4, DIM), new int[] {0, 2, 4}));
            assertTrue(e.getMessage().contains("batch 1"), e.getMessage());
        }
    }

    private static void close(String what, double[] got, double[] want) {
        assertEquals(want.length, got.length, what + ": element count");
        for (int i = 0; i < got.length; i++) {
            assertTrue(Math.abs(got[i] - want[i]) <= 1e-9 + 1e-9 * Math.abs(want[i]), what + "[" + i + "]: " + got[i] + " vs " + want[i]);
        }
    }
}
