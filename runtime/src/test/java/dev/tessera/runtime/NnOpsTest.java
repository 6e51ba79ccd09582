package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** softmax, logSoftmax, crossEntropy, layerNorm, rmsNorm, dropout and causalConv1d against hand-written loops. */
class NnOpsTest {
    private final Generator g = new Generator(11);

    /** Row softmax of {@code x} [rows, n] by a direct loop. */
    private static double[] softmaxRows(double[] x, int rows, int n, boolean log) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, s = 0;
            for (int i = 0; i < n; i++) max = Math.max(max, x[r * n + i]);
            for (int i = 0; i < n; i++) s += Math.exp(x[r * n + i] - max);
            for (int i = 0; i < n; i++) {
                double lp = x[r * n + i] - max - Math.log(s);
                out[r * n + i] = log ? lp : Math.exp(lp);
            }
        }
        return out;
    }

    @Test
    void softmaxHandValues() {
        Tensor x = Tensor.of(new double[] {0, 0, Math.log(2), 1, 1, 1}, 2, 3);
        values(x.softmax(1), new int[] {2, 3}, new double[] {0.25, 0.25, 0.5, 1 / 3.0, 1 / 3.0, 1 / 3.0}, 1e-15);
        values(x.logSoftmax(-1), new double[] {Math.log(0.25), Math.log(0.25), Math.log(0.5), -Math.log(3), -Math.log(3), -Math.log(3)}, 1e-14);
        // along dim 0: columns (0,1), (0,1), (log 2, 1)
        double e = Math.E;
        values(x.softmax(0), new double[] {1 / (1 + e), 1 / (1 + e), 2 / (2 + e), e / (1 + e), e / (1 + e), e / (2 + e)}, 1e-15);
        // huge logits do not overflow
        values(Tensor.of(new float[] {1000, 1000}, 2).softmax(0), new double[] {0.5, 0.5}, 0);
        values(Tensor.of(new float[] {-1e30f, 0}, 2).logSoftmax(0), new double[] {-1e30, 0}, 1e-6);
        // a fully masked row: softmax 0, log-softmax -inf
        Tensor masked = Tensor.of(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, 1, 2);
        values(masked.softmax(1), new double[] {0, 0}, 0);
        values(masked.logSoftmax(1), new double[] {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY}, 0);
    }

    @Test
    void softmaxAgainstLoopF32AndF64() {
        int rows = 3, n = 37; // 37: SIMD body plus tail in F32
        double[] xv = Tensor.randn(g, rows, n).mul(3).toDoubleArray();
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            Tensor x = Tensor.of(xv, rows, n).to(dt);
            double tol = dt == DType.F32 ? 1e-6 : 1e-14;
            values(x.softmax(-1), softmaxRows(xv, rows, n, false), tol);
            values(x.logSoftmax(-1), softmaxRows(xv, rows, n, true), tol * 10);
            // over dim 0 via the transposed layout: softmax(x.t(), 1) == softmax(x, 0).t()
            Tensor xt = Tensor.of(xv, rows, n).to(dt).t(); // [n, rows], non-contiguous
            double[] xtv = Expect.viaGet(xt);
            values(xt.softmax(1), softmaxRows(xtv, n, rows, false), tol);
            values(x.softmax(0).t().contiguous(), softmaxRows(xtv, n, rows, false), tol);
        }
        // 3-D, middle dim
        Tensor c = Tensor.randn(g, 2, 4, 3).to(DType.F64);
        Tensor sm = c.softmax(1);
        for (int i = 0; i < 2; i++) for (int k = 0; k < 3; k++) {
            double s = 0;
            for (int j = 0; j < 4; j++) s += Math.exp(c.get(i, j, k));
            for (int j = 0; j < 4; j++) assertEquals(Math.exp(c.get(i, j, k)) / s, sm.get(i, j, k), 1e-14);
        }
        // BF16 goes through F32 and comes back as BF16
        Tensor b = Tensor.of(new float[] {0, 0}, 2).to(DType.BF16).softmax(0);
        assertEquals(DType.BF16, b.dtype());
        values(b, new double[] {0.5, 0.5}, 0);
    }

    @Test
    void crossEntropy() {
        // logits rows: [0,0,ln2] (p = .25,.25,.5), [1,1,1] (p = 1/3 each), [ln3, 0, 0] (p = .6,.2,.2)
        Tensor logits = Tensor.of(new double[] {0, 0, Math.log(2), 1, 1, 1, Math.log(3), 0, 0}, 3, 3);
        Tensor targets = Tensor.of(new long[] {2, 0, 1}, 3);
        double l0 = -Math.log(0.5), l1 = Math.log(3), l2 = -Math.log(0.2);
        values(Functional.crossEntropy(logits, targets, -100, Functional.Reduction.NONE), new int[] {3}, new double[] {l0, l1, l2}, 1e-14);
        assertEquals(l0 + l1 + l2, Functional.crossEntropy(logits, targets, -100, Functional.Reduction.SUM).item(), 1e-14);
        assertEquals((l0 + l1 + l2) / 3, Functional.crossEntropy(logits, targets).item(), 1e-14);
        // an ignored target: contributes 0 and is left out of the mean's count
        Tensor ignored = Tensor.of(new long[] {2, -100, 1}, 3);
        values(Functional.crossEntropy(logits, ignored, -100, Functional.Reduction.NONE), new double[] {l0, 0, l2}, 1e-14);
        assertEquals(l0 + l2, Functional.crossEntropy(logits, ignored, -100, Functional.Reduction.SUM).item(), 1e-14);
        assertEquals((l0 + l2) / 2, Functional.crossEntropy(logits, ignored).item(), 1e-14);
        // a custom ignore index that is also a valid class
        Tensor ig1 = Tensor.of(new long[] {1, 0, 1}, 3);
        assertEquals(l1, Functional.crossEntropy(logits, ig1, 1, Functional.Reduction.MEAN).item(), 1e-14);
        // all ignored: mean is 0
        assertEquals(0, Functional.crossEntropy(logits, Tensor.of(new long[] {-100, -100, -100}, 3)).item(), 0);
        // [B, T, C] logits with [B, T] targets; NONE keeps [B, T]
        Tensor l3 = logits.reshape(1, 3, 3);
        Tensor t3 = Tensor.of(new int[] {2, 0, 1}, 1, 3);
        values(Functional.crossEntropy(l3, t3, -100, Functional.Reduction.NONE), new int[] {1, 3}, new double[] {l0, l1, l2}, 1e-14);
        // non-contiguous logits: the transpose of the transposed matrix
        Tensor lt = Tensor.of(new double[] {0, 1, Math.log(3), 0, 1, 0, Math.log(2), 1, 0}, 3, 3).t();
        values(Functional.crossEntropy(lt, targets, -100, Functional.Reduction.NONE), new double[] {l0, l1, l2}, 1e-14);
        // gradient of the mean: (softmax − onehot) / kept, zero rows for ignored targets
        Tensor lg = Tensor.of(new double[] {0, 0, Math.log(2), 1, 1, 1, Math.log(3), 0, 0}, 3, 3).requiresGrad(true);
        Functional.crossEntropy(lg, ignored).backward();
        values(lg.grad(), new double[] {0.125, 0.125, -0.25, 0, 0, 0, 0.3, -0.4, 0.1}, 1e-14);
        assertThrows(IndexOutOfBoundsException.class, () -> Functional.crossEntropy(logits, Tensor.of(new long[] {3, 0, 0}, 3)));
        assertThrows(IllegalArgumentException.class, () -> Functional.crossEntropy(logits, Tensor.of(new long[] {0, 0}, 2)));
        assertThrows(IllegalArgumentException.class, () -> Functional.crossEntropy(logits, Tensor.of(new float[] {0, 0, 0}, 3)));
    }

    /** LayerNorm or RMSNorm over the last dim by a direct loop. */
    private static double[] normLoop(double[] x, int rows, int d, double[] w, double[] b, double eps, boolean rms) {
        double[] out = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mu = 0;
            if (!rms) {
                for (int i = 0; i < d; i++) mu += x[r * d + i];
                mu /= d;
            }
            double ms = 0;
            for (int i = 0; i < d; i++) ms += (x[r * d + i] - mu) * (x[r * d + i] - mu);
            ms /= d;
            for (int i = 0; i < d; i++) {
                double v = (x[r * d + i] - mu) / Math.sqrt(ms + eps);
                if (w != null) v *= w[i];
                if (b != null) v += b[i];
                out[r * d + i] = v;
            }
        }
        return out;
    }

    @Test
    void layerNormHandValues() {
        // [1,2,3,4]: mean 2.5, var 1.25 -> (x - 2.5)/sqrt(1.25)
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4);
        double s = Math.sqrt(1.25);
        values(Functional.layerNorm(x, null, null, 0), new double[] {-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, 1e-14);
        Tensor w = Tensor.of(new double[] {2, 2, 1, 0}, 4), b = Tensor.of(new double[] {0, 1, 0, 5}, 4);
        values(Functional.layerNorm(x, w, b, 0), new double[] {-3 / s, -1 / s + 1, 0.5 / s, 5}, 1e-14);
        values(Functional.layerNorm(x, w, null, 0), new double[] {-3 / s, -1 / s, 0.5 / s, 0}, 1e-14);
        // a constant row normalises to 0 (eps keeps it finite)
        values(Functional.layerNorm(Tensor.of(new double[] {3, 3}, 2), null, null, 1e-5), new double[] {0, 0}, 0);
    }

    @Test
    void normsAgainstLoop() {
        int rows = 6, d = 10;
        double[] xv = Tensor.randn(g, rows, d).mul(2).add(1).toDoubleArray();
        double[] wv = Tensor.randn(g, d).toDoubleArray(), bv = Tensor.randn(g, d).toDoubleArray();
        double eps = 1e-5;
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            double tol = dt == DType.F32 ? 1e-5 : 1e-12;
            Tensor x = Tensor.of(xv, 2, 3, d).to(dt), w = Tensor.of(wv, d).to(dt), b = Tensor.of(bv, d).to(dt);
            Tensor y = Functional.layerNorm(x, w, b, eps);
            Expect.shape(y, 2, 3, d);
            assertEquals(dt, y.dtype());
            values(y, normLoop(xv, rows, d, wv, bv, eps, false), tol);
            values(Functional.layerNorm(x, null, null, eps), normLoop(xv, rows, d, null, null, eps, false), tol);
            values(Functional.layerNorm(x, null, b, eps), normLoop(xv, rows, d, null, bv, eps, false), tol);
            values(Functional.rmsNorm(x, w, eps), normLoop(xv, rows, d, wv, null, eps, true), tol);
            values(Functional.rmsNorm(x, null, eps), normLoop(xv, rows, d, null, null, eps, true), tol);
        }
        // non-contiguous input: normalise the rows of a transposed view
        Tensor xt = Tensor.of(xv, d, rows).t(); // [rows, d]
        double[] xtv = Expect.viaGet(xt);
        values(Functional.layerNorm(xt, Tensor.of(wv, d), Tensor.of(bv, d), eps), normLoop(xtv, rows, d, wv, bv, eps, false), 1e-12);
        values(Functional.rmsNorm(xt, Tensor.of(wv, d), eps), normLoop(xtv, rows, d, wv, null, eps, true), 1e-12);
        // rmsNorm by hand: [3, 4] -> rms = sqrt(12.5)
        values(Functional.rmsNorm(Tensor.of(new double[] {3, 4}, 2), null, 0), new double[] {3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)}, 1e-15);
        assertThrows(IllegalArgumentException.class, () -> Functional.layerNorm(Tensor.zeros(2, 3), Tensor.zeros(2), null, eps));
        assertThrows(IllegalArgumentException.class, () -> Functional.rmsNorm(Tensor.of(new int[] {1}, 1), null, eps));
    }

    @Test
    void dropout() {
        int n = 20000;
        double p = 0.3;
        Tensor x = Tensor.full(2, DType.F32, n);
        Tensor y = Functional.dropout(x, p, new Generator(5), true);
        double[] v = y.toDoubleArray();
        int kept = 0;
        for (double e : v) {
            if (e != 0) {
                kept++;
                assertEquals(2 / (1 - p), e, 1e-6); // survivors are scaled by 1/(1-p)
            }
        }
        // Binomial(20000, 0.7): sd ≈ 65, so ±400 is > 6 sd
        assertTrue(Math.abs(kept - 0.7 * n) < 400, "kept " + kept + " of " + n);
        // same seed, same mask; another seed, another mask
        assertArrayEquals(v, Functional.dropout(x, p, new Generator(5), true).toDoubleArray(), 0);
        double[] other = Functional.dropout(x, p, new Generator(6), true).toDoubleArray();
        assertTrue(!java.util.Arrays.equals(v, other));
        // one generator advances: two draws differ
        Generator gen = new Generator(5);
        double[] first = Functional.dropout(x, p, gen, true).toDoubleArray();
        assertArrayEquals(v, first, 0);
        assertTrue(!java.util.Arrays.equals(first, Functional.dropout(x, p, gen, true).toDoubleArray()));
        // identity when not training or p = 0; zeros when p = 1
        assertSame(x, Functional.dropout(x, p, new Generator(5), false));
        assertSame(x, Functional.dropout(x, 0, new Generator(5), true));
        Tensor all = Functional.dropout(x, 1, new Generator(5), true);
        assertNotSame(x, all);
        assertEquals(0, all.abs().sum().item(), 0);
        // the gradient uses the same mask and scale
        Tensor xs = Tensor.ones(DType.F64, 1000).requiresGrad(true);
        Tensor ys = Functional.dropout(xs, 0.5, new Generator(9), true);
        ys.sum().backward();
        assertArrayEquals(ys.toDoubleArray(), xs.grad().toDoubleArray(), 0);
        assertThrows(IllegalArgumentException.class, () -> Functional.dropout(x, 1.5, new Generator(1), true));
    }

    /** y[b,t,c] = bias[c] + Σ_j w[c,j] x[b, t−K+1+j, c], zeros before t = 0. */
    private static double[] convLoop(Tensor x, Tensor w, Tensor bias) {
        int[] s = x.shape();
        int bs = s[0], len = s[1], ch = s[2], k = w.size(1);
        double[] out = new double[bs * len * ch];
        for (int b = 0; b < bs; b++) for (int t = 0; t < len; t++) for (int c = 0; c < ch; c++) {
            double acc = bias == null ? 0 : bias.get(c);
            for (int j = 0; j < k; j++) {
                int src = t - k + 1 + j;
                if (src >= 0) acc += w.get(c, j) * x.get(b, src, c);
            }
            out[(b * len + t) * ch + c] = acc;
        }
        return out;
    }

    @Test
    void causalConv1dHandValues() {
        // one channel, K = 3, weights [1, 10, 100] (the last tap reads x[t])
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4, 1);
        Tensor w = Tensor.of(new double[] {1, 10, 100}, 1, 3);
        values(Functional.causalConv1d(x, w, null), new int[] {1, 4, 1}, new double[] {100, 210, 321, 432}, 0);
        values(Functional.causalConv1d(x, w, Tensor.of(new double[] {0.5}, 1)), new double[] {100.5, 210.5, 321.5, 432.5}, 0);
    }

    @Test
    void causalConv1dAgainstLoop() {
        for (int[] dims : new int[][] {{2, 7, 3, 4}, {1, 2, 2, 5}, {3, 5, 1, 1}}) {
            int b = dims[0], l = dims[1], c = dims[2], k = dims[3];
            for (DType dt : new DType[] {DType.F32, DType.F64}) {
                Tensor x = Tensor.randn(g, b, l, c).to(dt), w = Tensor.randn(g, c, k).to(dt), bias = Tensor.randn(g, c).to(dt);
                double tol = dt == DType.F32 ? 1e-5 : 1e-12;
                values(Functional.causalConv1d(x, w, bias), new int[] {b, l, c}, convLoop(x, w, bias), tol);
                values(Functional.causalConv1d(x, w, null), convLoop(x, w, null), tol);
            }
        }
        // non-contiguous x ([B, C, L] transposed) and weight ([K, C] transposed)
        Tensor xt = Tensor.randn(g, 2, 3, 6).to(DType.F64).transpose(1, 2);
        Tensor wt = Tensor.randn(g, 4, 3).to(DType.F64).t();
        Tensor bias = Tensor.randn(g, 3).to(DType.F64);
        values(Functional.causalConv1d(xt, wt, bias), convLoop(xt, wt, bias), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Functional.causalConv1d(Tensor.zeros(2, 3), Tensor.zeros(3, 2), null));
        assertThrows(IllegalArgumentException.class, () -> Functional.causalConv1d(Tensor.zeros(1, 2, 3), Tensor.zeros(2, 2), null));
        assertThrows(IllegalArgumentException.class, () -> Functional.causalConv1d(Tensor.zeros(1, 2, 3), Tensor.zeros(3, 2), Tensor.zeros(2)));
    }

    @Test
    void layerNormGradientsTakeTheDtypeOfTheirParameter() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(4), 3, 5).requiresGrad(true);
            Tensor w = Tensor.ones(DType.F64, 5).requiresGrad(true), b = Tensor.zeros(DType.F64, 5).requiresGrad(true);
            Functional.layerNorm(x, w, b, 1e-5).to(DType.F32).sum().backward();
            assertEquals(DType.F32, x.grad().dtype());
            assertEquals(DType.F64, w.grad().dtype());
            assertEquals(DType.F64, b.grad().dtype());
            assertEquals(3.0, b.grad().get(0), 1e-12); // d sum / d bias = number of rows
        }
    }
}
