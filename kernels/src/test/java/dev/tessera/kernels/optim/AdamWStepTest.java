package dev.tessera.kernels.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** The fused AdamW step against its float64 reference and against the same update composed from runtime ops. */
class AdamWStepTest {
    private static final AdamWStep.Hyper[] STEPS = {
        new AdamWStep.Hyper(3e-3, 0.9, 0.95, 1e-8, 0.1, 1 - 0.9, 1 - 0.95),
        new AdamWStep.Hyper(2e-3, 0.9, 0.95, 1e-8, 0.1, 1 - 0.81, 1 - 0.9025),
        new AdamWStep.Hyper(1e-3, 0.9, 0.999, 1e-6, 0, 1 - 0.729, 1 - Math.pow(0.999, 3))};

    /** {w, g, m, v} of n elements in dtype: m and v start at zero, as an optimizer's first step finds them. */
    private static Tensor[] state(int n, DType dtype, long seed) {
        Generator gen = new Generator(seed);
        return new Tensor[] {Tensor.randn(gen, n).to(dtype), Tensor.randn(gen, n).mul(0.1).to(dtype), Tensor.zeros(n).to(dtype),
                Tensor.zeros(n).to(dtype)};
    }

    private static void close(double[] want, double[] got, double rel, String what) {
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], rel * Math.max(1e-3, Math.abs(want[i])), what + "[" + i + "]");
    }

    @Test
    void f32MatchesTheFloat64Reference() {
        for (int n : new int[] {1, 15, 1037, 70_001}) {
            try (Scope s = Scope.open()) {
                Tensor[] f32 = state(n, DType.F32, n), f64 = new Tensor[4];
                for (int i = 0; i < 4; i++) f64[i] = f32[i].to(DType.F64);
                for (AdamWStep.Hyper h : STEPS) {
                    AdamWStep.apply(f32[0], f32[1], f32[2], f32[3], h);
                    AdamWStep.apply(f64[0], f64[1], f64[2], f64[3], h);
                    for (int i = 0; i < 4; i++) {
                        if (i != 1) close(f64[i].toDoubleArray(), f32[i].toDoubleArray(), 2e-5, "n=" + n + " tensor " + i);
                    }
                    // the next step's gradient
                    Tensor g = Tensor.randn(new Generator(n + 7), n).mul(0.1);
                    f32[1] = g;
                    f64[1] = g.to(DType.F64);
                }
            }
        }
    }

    @Test
    void float64EqualsTheUpdateComposedFromRuntimeOps() {
        try (Scope s = Scope.open(); Grad.Region ng = Grad.noGrad()) {
            Tensor[] fused = state(301, DType.F64, 5), composed = new Tensor[4];
            for (int i = 0; i < 4; i++) composed[i] = fused[i].clone();
            for (AdamWStep.Hyper h : STEPS) {
                AdamWStep.apply(fused[0], fused[1], fused[2], fused[3], h);
                Tensor w = composed[0], g = composed[1], m = composed[2], v = composed[3];
                m.affineInPlace(h.beta1(), 0).addInPlace(g.mul(1 - h.beta1()));
                v.affineInPlace(h.beta2(), 0).addInPlace(g.mul(g).mul(1 - h.beta2()));
                w.affineInPlace(1 - h.lr() * h.weightDecay(), 0);
                w.addInPlace(m.div(v.div(h.c2()).sqrt().add(h.eps())).mul(-h.lr() / h.c1()));
            }
            for (int i = 0; i < 4; i++) close(composed[i].toDoubleArray(), fused[i].toDoubleArray(), 1e-13, "tensor " + i);
        }
    }

    /** Vector lanes and the scalar tail agree bit for bit: a slice updated alone gives what the whole update gives. */
    @Test
    void anElementsResultDoesNotDependOnWhereItsRangeStarts() {
        int n = 1037;
        try (Scope s = Scope.open()) {
            Tensor[] whole = state(n, DType.F32, 9), pieces = new Tensor[4];
            for (int i = 0; i < 4; i++) pieces[i] = whole[i].clone();
            AdamWStep.apply(whole[0], whole[1], whole[2], whole[3], STEPS[0]);
            for (int start = 0; start < n; start += 7) {
                int len = Math.min(7, n - start);
                AdamWStep.apply(pieces[0].narrow(0, start, len), pieces[1].narrow(0, start, len), pieces[2].narrow(0, start, len),
                        pieces[3].narrow(0, start, len), STEPS[0]);
            }
            for (int i = 0; i < 4; i++) assertArrayEquals(whole[i].toFloatArray(), pieces[i].toFloatArray(), "tensor " + i);
        }
    }

    @Test
    void badInputIsRefusedByName() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(4, 3), ok = Tensor.zeros(4, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> AdamWStep.apply(w, Tensor.zeros(3, 4), ok, ok.clone(), STEPS[0]));
            assertTrue(e.getMessage().contains("adamw_step") && e.getMessage().contains("[3, 4]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> AdamWStep.apply(w, ok.to(DType.F64), ok, ok, STEPS[0]));
            assertThrows(IllegalArgumentException.class, () -> AdamWStep.apply(w, Tensor.zeros(3, 4).t(), ok, ok, STEPS[0]));
            assertThrows(IllegalArgumentException.class, () -> AdamWStep.apply(w.to(DType.I64), ok, ok, ok, STEPS[0]));
            AdamWStep.apply(Tensor.zeros(0), Tensor.zeros(0), Tensor.zeros(0), Tensor.zeros(0), STEPS[0]); // nothing to do
        }
    }
}
