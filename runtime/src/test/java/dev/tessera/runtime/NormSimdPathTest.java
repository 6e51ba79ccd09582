package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The F32 SIMD rows of layer_norm and rms_norm agree with the F64 scalar rows, forward and backward. */
class NormSimdPathTest {
    private static void compare(boolean rms, int rows, int d) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(rows * 31L + d);
            Tensor x = Tensor.randn(g, rows, d).mul(2).add(0.5), w = Tensor.randn(g, d), b = Tensor.randn(g, d), dy = Tensor.randn(g, rows, d);
            Tensor[] f32 = {x.clone().requiresGrad(true), w.clone().requiresGrad(true), b.clone().requiresGrad(true)};
            Tensor[] f64 = {x.to(DType.F64).requiresGrad(true), w.to(DType.F64).requiresGrad(true), b.to(DType.F64).requiresGrad(true)};
            Tensor y32 = rms ? Functional.rmsNorm(f32[0], f32[1], 1e-5) : Functional.layerNorm(f32[0], f32[1], f32[2], 1e-5);
            Tensor y64 = rms ? Functional.rmsNorm(f64[0], f64[1], 1e-5) : Functional.layerNorm(f64[0], f64[1], f64[2], 1e-5);
            y32.backward(dy);
            y64.backward(dy.to(DType.F64));
            close(y64.toDoubleArray(), y32.toDoubleArray(), "y");
            for (int i = 0; i < (rms ? 2 : 3); i++) close(f64[i].grad().toDoubleArray(), f32[i].grad().toDoubleArray(), "grad " + i);
        }
    }

    private static void close(double[] want, double[] got, String what) {
        double scale = 0;
        for (double v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 * Math.max(1, scale), what + "[" + i + "]");
    }

    @Test
    void layerNormWidthsAroundTheVectorLength() {
        for (int d : new int[] {7, 16, 37, 64, 130}) compare(false, 70, d);
    }

    @Test
    void rmsNormWidthsAroundTheVectorLength() {
        for (int d : new int[] {7, 16, 37, 64, 130}) compare(true, 70, d);
    }
}
