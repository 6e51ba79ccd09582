package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The F32 SIMD causal conv1d (channels across vector lanes) agrees with the F64 scalar kernel, packed or not. */
class Conv1dSimdPathTest {
    private static void compare(int batch, int len, int ch, int k, int[] cuSeqlens) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(ch * 7L + len);
            Tensor x = Tensor.randn(g, batch, len, ch), w = Tensor.randn(g, ch, k), b = Tensor.randn(g, ch), dy = Tensor.randn(g, batch, len, ch);
            Tensor[] f32 = {x.clone().requiresGrad(true), w.clone().requiresGrad(true), b.clone().requiresGrad(true)};
            Tensor[] f64 = {x.to(DType.F64).requiresGrad(true), w.to(DType.F64).requiresGrad(true), b.to(DType.F64).requiresGrad(true)};
            Functional.causalConv1d(f32[0], f32[1], f32[2], cuSeqlens).backward(dy);
            Tensor y64 = Functional.causalConv1d(f64[0], f64[1], f64[2], cuSeqlens);
            y64.backward(dy.to(DType.F64));
            close(y64.toDoubleArray(), Functional.causalConv1d(x, w, b, cuSeqlens).toDoubleArray(), "y");
            for (int i = 0; i < 3; i++) close(f64[i].grad().toDoubleArray(), f32[i].grad().toDoubleArray(), "grad " + i + " ch=" + ch);
        }
    }

    private static void close(double[] want, double[] got, String what) {
        double scale = 1;
        for (double v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 2e-5 * scale, what + "[" + i + "]");
    }

    @Test
    void channelsAroundTheVectorWidth() {
        for (int ch : new int[] {5, 16, 37, 64}) compare(2, 19, ch, 4, null);
    }

    @Test
    void packedSequences() {
        compare(1, 20, 48, 4, new int[] {0, 3, 3, 11, 20});
    }
}
