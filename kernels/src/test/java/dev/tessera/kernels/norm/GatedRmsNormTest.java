package dev.tessera.kernels.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.GradCheck;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Profiler;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The fused gated RMSNorm: its reference against the composition it replaces and against finite differences, the F32
 * fast path against the reference, a gate cut from a wider projection (read in place, its gradient written in place),
 * and bad input.
 */
class GatedRmsNormTest {
    private static final double EPS = 1e-5;

    /** The same math from runtime ops: RMSNorm(x ⊙ SiLU(z)) ⊙ w. */
    static Tensor unfused(Tensor x, Tensor z, Tensor w, double eps) { return Functional.rmsNorm(x.mul(z.silu()), w, eps); }

    private static Tensor[] draw(DType t, long seed, int... shape) {
        Generator g = new Generator(seed);
        int d = shape[shape.length - 1];
        return new Tensor[] {Tensor.randn(g, shape).mul(2).to(t), Tensor.randn(g, shape).mul(3).to(t), Tensor.randn(g, d).add(1).to(t)};
    }

    @Test
    void referenceMatchesTheCompositionForwardAndBackward() {
        try (Scope s = Scope.open()) {
            Tensor[] a = draw(DType.F64, 1, 3, 4, 13);
            Tensor[] b = {a[0].clone(), a[1].clone(), a[2].clone()};
            for (Tensor t : a) t.requiresGrad(true);
            for (Tensor t : b) t.requiresGrad(true);
            Tensor dy = Tensor.randn(new Generator(2), 3, 4, 13).to(DType.F64);
            Tensor fused = GatedRmsNorm.apply(a[0], a[1], a[2], EPS), composed = unfused(b[0], b[1], b[2], EPS);
            fused.backward(dy);
            composed.backward(dy);
            close(composed.toDoubleArray(), fused.toDoubleArray(), 1e-12, "y");
            for (int i = 0; i < 3; i++) close(b[i].grad().toDoubleArray(), a[i].grad().toDoubleArray(), 1e-11, "d" + "xzw".charAt(i));
        }
    }

    @Test
    void float64FiniteDifferenceGradient() {
        try (Scope s = Scope.open()) {
            Tensor[] a = draw(DType.F64, 3, 2, 3, 7);
            GradCheck.check("gated_rms_norm", in -> GatedRmsNorm.apply(in[0], in[1], in[2], EPS), a);
        }
    }

    @Test
    void fastMatchesReferenceForwardAndBackward() {
        for (int d : new int[] {1, 7, 16, 37, 128}) { // widths below, at and off the vector length
            try (Scope s = Scope.open()) {
                Tensor[] a = draw(DType.F32, d, 5, 3, d);
                Tensor[] w = {a[0].to(DType.F64), a[1].to(DType.F64), a[2].to(DType.F64)};
                for (Tensor t : a) t.requiresGrad(true);
                for (Tensor t : w) t.requiresGrad(true);
                Tensor dy = Tensor.randn(new Generator(50 + d), 5, 3, d);
                GatedRmsNorm.apply(a[0], a[1], a[2], EPS).backward(dy);
                Tensor y64 = GatedRmsNorm.apply(w[0], w[1], w[2], EPS);
                y64.backward(dy.to(DType.F64));
                close(y64.toDoubleArray(), GatedRmsNorm.apply(a[0], a[1], a[2], EPS).toDoubleArray(), 2e-5, "y, d " + d);
                for (int i = 0; i < 3; i++) close(w[i].grad().toDoubleArray(), a[i].grad().toDoubleArray(), 1e-4, "d" + "xzw".charAt(i) + ", d " + d);
            }
        }
    }

    /**
     * Mamba-2's layout: the gate a slice of the input projection, x the scan's output. The gate is read in place and
     * its gradient lands in the projection's gradient without a copy; both dtypes agree with the composition.
     */
    @Test
    void aGateCutFromAProjection() {
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            try (Scope s = Scope.open()) {
                Generator g = new Generator(9);
                Tensor u = Tensor.randn(g, 2, 6, 5).to(t).requiresGrad(true), wIn = Tensor.randn(g, 5, 40).to(t).requiresGrad(true);
                Tensor x = Tensor.randn(g, 2, 6, 24).to(t).requiresGrad(true), w = Tensor.randn(g, 24).to(t).requiresGrad(true);
                Tensor dy = Tensor.randn(g, 2, 6, 24).to(t);
                long copied = backwardCopies(u, wIn, x, w, dy, false), inPlace = backwardCopies(u, wIn, x, w, dy, true);
                assertEquals(1, copied - inPlace, "dz written in place: one copy fewer (" + copied + " against " + inPlace + ")");
                double[] du = u.grad().toDoubleArray(), dWin = wIn.grad().toDoubleArray(), dx = x.grad().toDoubleArray();
                u.zeroGrad();
                wIn.zeroGrad();
                x.zeroGrad();
                w.zeroGrad();
                unfused(x, u.matmul(wIn).narrow(2, 3, 24), w, EPS).backward(dy);
                double tol = t == DType.F32 ? 1e-4 : 1e-11;
                close(u.grad().toDoubleArray(), du, tol, "du " + t);
                close(wIn.grad().toDoubleArray(), dWin, tol, "dWin " + t);
                close(x.grad().toDoubleArray(), dx, tol, "dx " + t);
            }
        }
    }

    /** Leaves the gradients of the layout above in the leaves; returns the copies its backward made. */
    private static long backwardCopies(Tensor u, Tensor wIn, Tensor x, Tensor w, Tensor dy, boolean inPlace) {
        for (Tensor t : new Tensor[] {u, wIn, x, w}) t.zeroGrad();
        Tensor y = GatedRmsNorm.apply(x, u.matmul(wIn).narrow(2, 3, 24), w, EPS); // the gate's rows 40 apart
        GatedRmsNorm.writeInPlace = inPlace;
        Profiler.reset();
        Profiler.enable();
        try {
            y.backward(dy);
        } finally {
            Profiler.disable();
            GatedRmsNorm.writeInPlace = true;
        }
        var copies = Profiler.snapshot().get("copy");
        Profiler.reset();
        return copies == null ? 0 : copies.calls();
    }

    @Test
    void oneRowAndEmptyRows() {
        try (Scope s = Scope.open()) {
            Tensor[] a = draw(DType.F32, 4, 9);
            close(unfused(a[0], a[1], a[2], EPS).toDoubleArray(), GatedRmsNorm.apply(a[0], a[1], a[2], EPS).toDoubleArray(), 2e-5, "one row");
            Tensor[] e = draw(DType.F32, 5, 0, 9);
            for (Tensor t : e) t.requiresGrad(true);
            Tensor y = GatedRmsNorm.apply(e[0], e[1], e[2], EPS);
            assertEquals(0, y.numel());
            y.sum().backward();
            close(new double[9], e[2].grad().toDoubleArray(), 0, "no rows: dw = 0");
        }
    }

    @Test
    void badInput() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.zeros(2, 8), w = Tensor.ones(DType.F32, 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.apply(x, Tensor.zeros(2, 7), w, EPS));
            assertTrue(e.getMessage().contains("gated_rms_norm") && e.getMessage().contains("[2, 7]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.apply(x, x, Tensor.ones(DType.F32, 9), EPS));
            assertTrue(e.getMessage().contains("weight must be [8]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.apply(x, x.to(DType.F64), w, EPS));
            assertTrue(e.getMessage().contains("dtype"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.apply(x.to(DType.I64), x.to(DType.I64), w.to(DType.I64), EPS));
            assertThrows(IllegalArgumentException.class, () -> GatedRmsNorm.apply(x, x, w, -1));
        }
    }

    static void close(double[] want, double[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= tol * Math.max(1, Math.abs(want[i])), what + " [" + i + "]: " + want[i] + " vs " + got[i]);
        }
    }
}
