package dev.tessera.kernels.rotary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.GradCheck;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Fused rotary embedding: fast vs reference, the unfused composition, float64 gradients, strided input, bad input. */
class RotaryTest {
    /** cos and sin [L, half] of random angles (positions and frequencies do not matter to the kernel). */
    static Tensor[] tables(long seed, int l, int half, DType dt) {
        double[] a = Tensor.randn(new Generator(seed), l, half).mul(3).toDoubleArray(), c = new double[a.length], s = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            c[i] = Math.cos(a[i]);
            s[i] = Math.sin(a[i]);
        }
        return new Tensor[] {Tensor.of(c, l, half).to(dt), Tensor.of(s, l, half).to(dt)};
    }

    /** The same rotation from runtime ops. */
    static Tensor unfused(Tensor x, Tensor cos, Tensor sin) {
        int half = cos.size(1), p = x.size(-1);
        Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
        Tensor r1 = x1.mul(cos).sub(x2.mul(sin)), r2 = x2.mul(cos).add(x1.mul(sin));
        return 2 * half == p ? Tensor.cat(List.of(r1, r2), -1) : Tensor.cat(List.of(r1, r2, x.narrow(-1, 2 * half, p - 2 * half)), -1);
    }

    @Test
    void fastMatchesReferenceForwardAndBackward() {
        for (int[] pr : new int[][] {{4, 4}, {16, 8}, {24, 12}, {64, 64}, {6, 2}}) { // [P, R]: full and partial rotation
            int p = pr[0], half = pr[1] / 2, l = 9;
            try (Scope s = Scope.open()) {
                Tensor x32 = Tensor.randn(new Generator(p), 2, 3, l, p).requiresGrad(true);
                Tensor x64 = x32.detach().to(DType.F64).requiresGrad(true);
                Tensor dy = Tensor.randn(new Generator(100 + p), 2, 3, l, p);
                Tensor[] t32 = tables(p, l, half, DType.F32), t64 = {t32[0].to(DType.F64), t32[1].to(DType.F64)};
                Tensor y32 = Rotary.apply(x32, t32[0], t32[1]), y64 = Rotary.apply(x64, t64[0], t64[1]);
                y32.backward(dy);
                y64.backward(dy.to(DType.F64));
                assertClose(y64.toDoubleArray(), y32.toDoubleArray(), 1e-5, "forward P=" + p);
                assertClose(x64.grad().toDoubleArray(), x32.grad().toDoubleArray(), 1e-5, "backward P=" + p);
            }
        }
    }

    @Test
    void referenceMatchesTheUnfusedComposition() {
        try (Scope s = Scope.open()) {
            Tensor[] t = tables(3, 7, 3, DType.F64);
            Tensor x = Tensor.randn(new Generator(4), 2, 7, 10).to(DType.F64).requiresGrad(true);
            Tensor x2 = x.detach().clone().requiresGrad(true);
            Tensor w = Tensor.randn(new Generator(5), 2, 7, 10).to(DType.F64);
            Tensor y = Rotary.apply(x, t[0], t[1]), y2 = unfused(x2, t[0], t[1]);
            y.mul(w).sum().backward();
            y2.mul(w).sum().backward();
            assertClose(y2.toDoubleArray(), y.toDoubleArray(), 1e-14, "forward");
            assertClose(x2.grad().toDoubleArray(), x.grad().toDoubleArray(), 1e-14, "backward");
        }
    }

    @Test
    void float64FiniteDifferenceGradient() {
        try (Scope s = Scope.open()) {
            Tensor[] t = tables(6, 5, 2, DType.F64); // constants: no gradient of their own
            GradCheck.check("rotary", in -> Rotary.apply(in[0], t[0], t[1]), Tensor.randn(new Generator(7), 2, 5, 6).to(DType.F64));
        }
    }

    /** Attention rotates q and k as strided views of one projection: the kernel reads them as they are. */
    @Test
    void stridedViewAsAttentionHasIt() {
        try (Scope s = Scope.open()) {
            int b = 2, l = 11, h = 3, p = 8;
            Tensor qkv = Tensor.randn(new Generator(9), b, l, 3, h, p).permute(2, 0, 3, 1, 4); // [3, B, H, L, P]
            Tensor q = qkv.select(0, 0);
            Tensor[] t = tables(10, l, 2, DType.F32);
            assertClose(unfused(q, t[0], t[1]).toDoubleArray(), Rotary.apply(q, t[0], t[1]).toDoubleArray(), 1e-6, "strided q");
        }
    }

    @Test
    void badInputsNameTheOpAndTheShapes() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.zeros(2, 5, 8);
            Tensor[] ok = tables(1, 5, 4, DType.F32);
            var e = assertThrows(IllegalArgumentException.class, () -> Rotary.apply(x, tables(1, 4, 4, DType.F32)[0], tables(1, 4, 4, DType.F32)[1]));
            assertTrue(e.getMessage().contains("rotary") && e.getMessage().contains("[2, 5, 8]") && e.getMessage().contains("[4, 4]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rotary.apply(x, tables(1, 5, 5, DType.F32)[0], tables(1, 5, 5, DType.F32)[1]));
            assertTrue(e.getMessage().contains("R/2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rotary.apply(x, ok[0].to(DType.F64), ok[1].to(DType.F64)));
            assertTrue(e.getMessage().contains("F32") && e.getMessage().contains("F64"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Rotary.apply(Tensor.zeros(DType.I64, 5, 8), ok[0], ok[1]));
            assertThrows(IllegalArgumentException.class, () -> Rotary.apply(Tensor.zeros(8), ok[0], ok[1]));
            assertEquals(0, Rotary.apply(Tensor.zeros(0, 5, 8), ok[0], ok[1]).numel());
        }
    }

    private static void assertClose(double[] want, double[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= tol * Math.max(1, Math.abs(want[i])), what + " [" + i + "]: " + want[i] + " vs " + got[i]);
        }
    }
}
