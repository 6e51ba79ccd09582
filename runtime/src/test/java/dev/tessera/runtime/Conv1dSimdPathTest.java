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

    /** Widths 2 to 4, channels below, at and around the vector width and over many blocks (hnet-tiny's 160). */
    @Test
    void channelsAroundTheVectorWidth() {
        for (int k : new int[] {2, 3, 4}) {
            for (int ch : new int[] {5, 16, 37, 64, 160}) compare(2, 19, ch, k, null);
        }
    }

    @Test
    void packedSequences() {
        compare(1, 20, 48, 4, new int[] {0, 3, 3, 11, 20});
    }

    /**
     * The backward sums dw and db per part of the rows and adds the parts in order: many parts (and a packed batch
     * whose sequence starts fall inside parts) agree with float64, and the result is the same bit for bit when every
     * part runs on one thread (the call nested in a pool task) as when the parts are spread over the pool.
     */
    @Test
    void manyPartsOfRowsGiveTheFloat64GradientsAndTheSameBitsOnOneThread() {
        compare(3, 300, 37, 4, null);
        compare(1, 700, 48, 4, new int[] {0, 250, 251, 333, 700});
        compare(2, 0, 37, 4, null); // no rows at all: zero weight and bias gradients
        try (Scope s = Scope.open()) {
            Generator g = new Generator(9);
            Tensor x = Tensor.randn(g, 4, 500, 160), w = Tensor.randn(g, 160, 4), b = Tensor.randn(g, 160), dy = Tensor.randn(g, 4, 500, 160);
            double[][] spread = gradients(x, w, b, dy);
            double[][][] nested = new double[2][][];
            dev.tessera.runtime.spi.KernelSupport.parallelFor(2, 1, (lo, hi) -> {
                for (long i = lo; i < hi; i++) {
                    try (Scope inner = Scope.open()) {
                        nested[(int) i] = gradients(x, w, b, dy);
                    }
                }
            });
            for (double[][] one : nested) {
                for (int i = 0; i < 3; i++) org.junit.jupiter.api.Assertions.assertArrayEquals(spread[i], one[i], "gradient " + i);
            }
        }
    }

    private static double[][] gradients(Tensor x, Tensor w, Tensor b, Tensor dy) {
        Tensor[] in = {x.clone().requiresGrad(true), w.clone().requiresGrad(true), b.clone().requiresGrad(true)};
        Functional.causalConv1d(in[0], in[1], in[2], null).backward(dy);
        return new double[][] {in[0].grad().toDoubleArray(), in[1].grad().toDoubleArray(), in[2].grad().toDoubleArray()};
    }

    /**
     * x a slice of a wider projection (Mamba's xBC of in_proj's output) is read where it lies: the same outputs and
     * gradients as its contiguous copy, on the F32 SIMD path and the F64 scalar one; a layout whose channels are not
     * contiguous is copied first.
     */
    @Test
    void slicesAndTransposesGiveTheContiguousResult() {
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            try (Scope s = Scope.open()) {
                Generator g = new Generator(5);
                Tensor wide = Tensor.randn(g, 2, 11, 40).to(dt), w = Tensor.randn(g, 21, 4).to(dt), b = Tensor.randn(g, 21).to(dt);
                Tensor dy = Tensor.randn(g, 2, 11, 21).to(dt);
                Tensor[] strided = {wide.clone().requiresGrad(true), w.clone().requiresGrad(true), b.clone().requiresGrad(true)};
                Tensor[] copied = {wide.clone().requiresGrad(true), w.clone().requiresGrad(true), b.clone().requiresGrad(true)};
                Tensor ys = Functional.causalConv1d(strided[0].narrow(2, 13, 21), strided[1], strided[2], null);
                Tensor yc = Functional.causalConv1d(copied[0].narrow(2, 13, 21).contiguous(), copied[1], copied[2], null);
                ys.backward(dy);
                yc.backward(dy);
                close(yc.toDoubleArray(), ys.toDoubleArray(), dt + " y");
                for (int i = 0; i < 3; i++) close(copied[i].grad().toDoubleArray(), strided[i].grad().toDoubleArray(), dt + " grad " + i);
                Tensor t = Tensor.randn(g, 2, 21, 11).to(dt);
                close(Functional.causalConv1d(t.transpose(1, 2).contiguous(), w, b).toDoubleArray(),
                        Functional.causalConv1d(t.transpose(1, 2), w, b).toDoubleArray(), dt + " transposed");
            }
        }
    }
}
