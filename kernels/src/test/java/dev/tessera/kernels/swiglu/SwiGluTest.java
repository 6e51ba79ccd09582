package dev.tessera.kernels.swiglu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The worked-example kernel: fast vs reference, gradients by finite differences, the unfused composition, bad input. */
class SwiGluTest {
    /** The same math from runtime ops: u·SiLU(g). */
    static Tensor unfused(Tensor x) {
        int f = x.size(-1) / 2;
        return x.narrow(-1, 0, f).mul(x.narrow(-1, f, f).silu());
    }

    @Test
    void fastMatchesReferenceForwardAndBackward() {
        for (int f : new int[] {1, 7, 16, 37, 128}) { // widths below, at and off the vector length
            try (Scope s = Scope.open()) {
                Tensor x32 = Tensor.randn(new Generator(f), 3, 5, 2 * f).mul(3).requiresGrad(true);
                Tensor x64 = x32.detach().to(DType.F64).requiresGrad(true);
                Tensor dy = Tensor.randn(new Generator(100 + f), 3, 5, f);
                Tensor y32 = SwiGlu.apply(x32), y64 = SwiGlu.apply(x64);
                y32.backward(dy);
                y64.backward(dy.to(DType.F64));
                assertClose(y64.toDoubleArray(), y32.toDoubleArray(), "forward F=" + f);
                assertClose(x64.grad().toDoubleArray(), x32.grad().toDoubleArray(), "backward F=" + f);
            }
        }
    }

    @Test
    void referenceMatchesTheUnfusedComposition() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(3), 4, 22).to(DType.F64).requiresGrad(true);
            Tensor x2 = x.detach().clone().requiresGrad(true);
            SwiGlu.apply(x).sum().backward();
            unfused(x2).sum().backward();
            assertClose(unfused(x2).toDoubleArray(), SwiGlu.apply(x).toDoubleArray(), "forward");
            assertClose(x2.grad().toDoubleArray(), x.grad().toDoubleArray(), "backward");
        }
    }

    @Test
    void float64FiniteDifferenceGradient() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(5), 2, 3, 10).to(DType.F64).requiresGrad(true);
            Tensor proj = Tensor.randn(new Generator(6), 2, 3, 5).to(DType.F64);
            SwiGlu.apply(x).mul(proj).sum().backward();
            double[] analytic = x.grad().toDoubleArray(), v = x.toDoubleArray();
            double eps = 1e-6;
            for (int i = 0; i < v.length; i++) {
                double keep = v[i], plus, minus;
                try (Scope in = Scope.open(); Grad.Region g = Grad.noGrad()) {
                    v[i] = keep + eps;
                    plus = SwiGlu.apply(Tensor.of(v, 2, 3, 10)).mul(proj).sum().item();
                    v[i] = keep - eps;
                    minus = SwiGlu.apply(Tensor.of(v, 2, 3, 10)).mul(proj).sum().item();
                    v[i] = keep;
                }
                double numeric = (plus - minus) / (2 * eps);
                assertTrue(Math.abs(analytic[i] - numeric) <= 1e-5 + 1e-3 * Math.abs(numeric), i + ": " + analytic[i] + " vs " + numeric);
            }
        }
    }

    @Test
    void nonContiguousInputAndBadShapes() {
        try (Scope s = Scope.open()) {
            Tensor base = Tensor.randn(new Generator(7), 8, 6);
            Tensor t = base.t(); // [6, 8], transposed: the op copies it contiguous first
            assertClose(unfused(t).toDoubleArray(), SwiGlu.apply(t).toDoubleArray(), "transposed input");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SwiGlu.apply(Tensor.zeros(3, 5)));
            assertTrue(e.getMessage().contains("swiglu") && e.getMessage().contains("[3, 5]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> SwiGlu.apply(Tensor.zeros(DType.I64, 4)));
            assertEquals(List.of(6, 4), List.of(SwiGlu.apply(t).shape()[0], SwiGlu.apply(t).shape()[1]));
        }
    }

    private static void assertClose(double[] want, double[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= 1e-5 + 1e-5 * Math.abs(want[i]), what + " [" + i + "]: " + want[i] + " vs " + got[i]);
        }
    }
}
