package dev.tessera.kernels.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Σ x² over a list of tensors against a plain float64 loop. */
class SquaredNormTest {
    private static double loop(Tensor... ts) {
        double s = 0;
        for (Tensor t : ts) for (double v : t.toDoubleArray()) s += v * v;
        return s;
    }

    @Test
    void matchesAPlainLoopAcrossBlocksAndDtypes() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(4);
            Tensor a = Tensor.randn(g, 3, 7), b = Tensor.randn(g, 200_003).mul(3), c = Tensor.randn(g, 65_536).to(DType.F64), e = Tensor.zeros(0);
            double want = loop(a, b, c, e);
            assertEquals(want, SquaredNorm.of(List.of(a, b, c, e)), 1e-12 * want);
            assertEquals(0, SquaredNorm.of(List.of()));
        }
    }

    @Test
    void stridedAndHalfPrecisionTensorsReadAsTheirValues() {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.randn(new Generator(5), 40, 30);
            double want = loop(t);
            assertEquals(want, SquaredNorm.of(List.of(t.t())), 1e-12 * want); // copied in transposed order first
            Tensor h = t.to(DType.BF16);
            assertEquals(loop(h), SquaredNorm.of(List.of(h)), 1e-12 * loop(h));
        }
    }

    @Test
    void nonFloatingInputIsRefusedByName() {
        try (Scope s = Scope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SquaredNorm.of(List.of(Tensor.zeros(2), Tensor.zeros(2).to(DType.I64))));
            assertTrue(e.getMessage().contains("squared_norm") && e.getMessage().contains("tensor 1"), e.getMessage());
        }
    }
}
