package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Inputs large enough to be split across the CPU pool (more than 32K elements per loop, several 16K reduction
 * blocks, more than 64 rows for the norm weight gradients) and views with a non-zero storage offset, all against
 * direct loops.
 */
class ParallelPathsTest {
    private final Generator g = new Generator(31);

    @Test
    void elementwiseOnLargeBroadcastAndTransposedInputs() {
        int rows = 300, cols = 257; // 77 100 elements, rows of odd length
        double[] a = Tensor.randn(g, rows, cols).toDoubleArray();
        double[] b = Tensor.randn(g, cols).toDoubleArray();
        Tensor ta = Tensor.of(Expect.toFloat(a), rows, cols), tb = Tensor.of(Expect.toFloat(b), cols);
        double[] want = new double[rows * cols];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) want[i * cols + j] = (float) a[i * cols + j] * (float) b[j];
        values(ta.mul(tb), want, 1e-6);
        // transposed operand: out[j][i] = a[i][j] + b[j]
        double[] wt = new double[rows * cols];
        for (int j = 0; j < cols; j++) for (int i = 0; i < rows; i++) wt[j * rows + i] = (float) a[i * cols + j] + (float) b[j];
        values(ta.t().add(tb.unsqueeze(1)), new int[] {cols, rows}, wt, 1e-6);
        // a unary op over a contiguous large tensor split across threads
        double[] e = new double[rows * cols];
        for (int i = 0; i < e.length; i++) e[i] = Math.tanh((float) a[i]);
        values(ta.tanh(), e, 1e-6);
        double[] gelu = ta.to(DType.F64).gelu().toDoubleArray();
        for (int i = 0; i < gelu.length; i += 101) {
            double v = (float) a[i];
            assertEquals(v * Expect.normalCdf(v), gelu[i], 1e-9);
        }
    }

    @Test
    void reductionsAcrossBlocksAndThreads() {
        int n = 50_000; // four 16K blocks per row
        float[] v = new float[2 * n];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.sin(0.001 * i);
        v[n - 3] = 5f;        // row 0 max in the last block
        v[n + 20_000] = -5f;  // row 1 min in the second block
        v[n + 40_000] = 5f;   // row 1 max in the third block
        Tensor t = Tensor.of(v, 2, n);
        double s0 = 0, s1 = 0;
        for (int i = 0; i < n; i++) { s0 += v[i]; s1 += v[n + i]; }
        values(t.sum(1), new double[] {s0, s1}, 1e-5);
        values(t.mean(new int[] {1}, false), new double[] {s0 / n, s1 / n}, 1e-5);
        values(t.max(new int[] {1}, false), new double[] {5, 5}, 0);
        assertArrayEquals(new long[] {n - 3, 40_000}, t.argmax(1, false).toLongArray());
        assertArrayEquals(new long[] {20_000}, t.narrow(0, 1, 1).argmin(1, false).toLongArray());
        assertEquals(-5, t.min().item(), 0);
        double l0 = 0;
        for (int i = 0; i < n; i++) l0 += Math.exp(v[i] - 5);
        assertEquals(5 + Math.log(l0), t.logsumexp(new int[] {1}, false).get(0), 1e-4);
        // many short rows (parallel over rows) and a reduction over the leading dim
        Tensor m = Tensor.of(v, 1000, 100);
        double[] colSums = new double[100];
        for (int i = 0; i < 1000; i++) for (int j = 0; j < 100; j++) colSums[j] += v[i * 100 + j];
        values(m.sum(0), colSums, 1e-4);
        // deterministic: the same reduction twice gives identical bits
        assertArrayEquals(t.sum(1).toDoubleArray(), t.sum(1).toDoubleArray(), 0);
    }

    @Test
    void softmaxManyRows() {
        int rows = 700, n = 65;
        Tensor x = Tensor.randn(g, rows, n);
        double[] xv = x.toDoubleArray();
        double[] want = new double[xv.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, s = 0;
            for (int i = 0; i < n; i++) max = Math.max(max, xv[r * n + i]);
            for (int i = 0; i < n; i++) s += Math.exp(xv[r * n + i] - max);
            for (int i = 0; i < n; i++) want[r * n + i] = Math.exp(xv[r * n + i] - max) / s;
        }
        values(x.softmax(1), want, 1e-6);
    }

    @Test
    void normWeightGradientsOverManyRowBlocks() {
        int rows = 200, d = 7; // four 64-row blocks
        Tensor x = Tensor.randn(g, rows, d).to(DType.F64);
        Tensor w = Tensor.randn(g, d).to(DType.F64).requiresGrad(true);
        Tensor b = Tensor.randn(g, d).to(DType.F64).requiresGrad(true);
        Tensor up = Tensor.randn(g, rows, d).to(DType.F64);
        Functional.layerNorm(x, w, b, 1e-5).mul(up).sum().backward();
        double[] xv = x.toDoubleArray(), uv = up.toDoubleArray();
        double[] dw = new double[d], db = new double[d];
        for (int r = 0; r < rows; r++) {
            double mu = 0, var = 0;
            for (int i = 0; i < d; i++) mu += xv[r * d + i];
            mu /= d;
            for (int i = 0; i < d; i++) var += (xv[r * d + i] - mu) * (xv[r * d + i] - mu);
            double rs = 1 / Math.sqrt(var / d + 1e-5);
            for (int i = 0; i < d; i++) {
                dw[i] += uv[r * d + i] * (xv[r * d + i] - mu) * rs;
                db[i] += uv[r * d + i];
            }
        }
        values(w.grad(), dw, 1e-10);
        values(b.grad(), db, 1e-10);
        Tensor w2 = Tensor.randn(g, d).to(DType.F64).requiresGrad(true);
        Functional.rmsNorm(x, w2, 1e-6).mul(up).sum().backward();
        double[] dw2 = new double[d];
        for (int r = 0; r < rows; r++) {
            double ms = 0;
            for (int i = 0; i < d; i++) ms += xv[r * d + i] * xv[r * d + i];
            double rs = 1 / Math.sqrt(ms / d + 1e-6);
            for (int i = 0; i < d; i++) dw2[i] += uv[r * d + i] * xv[r * d + i] * rs;
        }
        values(w2.grad(), dw2, 1e-10);
    }

    @Test
    void largeConvScanAndIndexing() {
        int bsz = 3, len = 600, ch = 24, k = 4;
        Tensor x = Tensor.randn(g, bsz, len, ch).to(DType.F64), w = Tensor.randn(g, ch, k).to(DType.F64);
        Tensor y = Functional.causalConv1d(x, w, null);
        for (int[] p : new int[][] {{0, 0, 0}, {1, 2, 5}, {2, 599, 23}, {1, 300, 11}}) {
            double acc = 0;
            for (int j = 0; j < k; j++) {
                int src = p[1] - k + 1 + j;
                if (src >= 0) acc += w.get(p[2], j) * x.get(p[0], src, p[2]);
            }
            assertEquals(acc, y.get(p[0], p[1], p[2]), 1e-12);
        }
        // cumsum over the middle dim of a large tensor, checked at a few points
        Tensor c = x.cumsum(1);
        for (int[] p : new int[][] {{0, 599, 3}, {2, 17, 20}}) {
            double s = 0;
            for (int t = 0; t <= p[1]; t++) s += x.get(p[0], t, p[2]);
            assertEquals(s, c.get(p[0], p[1], p[2]), 1e-10);
        }
        // gather along the last dim of a large tensor
        Tensor idx = Tensor.randint(g, 0, ch, bsz, len, 2);
        Tensor gathered = x.gather(2, idx);
        long[] iv = idx.toLongArray();
        double[] gv = gathered.toDoubleArray();
        for (int q = 0; q < iv.length; q += 97) {
            int bb = q / (len * 2), t = (q / 2) % len;
            assertEquals(x.get(bb, t, (int) iv[q]), gv[q], 0);
        }
        // embedding of many indices
        Tensor table = Tensor.randn(g, 50, 16);
        Tensor ids = Tensor.randint(g, 0, 50, 4000);
        Tensor emb = table.embedding(ids);
        long[] idv = ids.toLongArray();
        for (int q = 0; q < idv.length; q += 331) assertEquals(table.get((int) idv[q], 5), emb.get(q, 5), 0);
    }

    @Test
    void viewsWithStorageOffset() {
        // narrowed rows of a contiguous tensor are contiguous with a non-zero offset
        Tensor base = Tensor.randn(g, 5, 6).to(DType.F64);
        Tensor v = base.narrow(0, 2, 3); // rows 2..4
        double[] vv = Expect.viaGet(v);
        values(v.softmax(-1), viaLoopSoftmax(vv, 3, 6), 1e-14);
        values(v.sum(1), rowSums(vv, 3, 6), 1e-14);
        values(v.cumsum(1).select(1, 5), rowSums(vv, 3, 6), 1e-14);
        values(v.logsumexp(new int[] {1}, false), Expect.map(rowSums(Expect.map(vv, Math::exp), 3, 6), Math::log), 1e-14);
        double[] ln = Functional.layerNorm(v, null, null, 0).toDoubleArray();
        for (int r = 0; r < 3; r++) {
            double mu = rowSums(vv, 3, 6)[r] / 6, var = 0;
            for (int i = 0; i < 6; i++) var += (vv[r * 6 + i] - mu) * (vv[r * 6 + i] - mu);
            for (int i = 0; i < 6; i++) assertEquals((vv[r * 6 + i] - mu) / Math.sqrt(var / 6), ln[r * 6 + i], 1e-12);
        }
        values(v.gather(1, Tensor.of(new long[] {5, 0, 3}, 3, 1)), new double[] {vv[5], vv[6], vv[15]}, 0);
        values(v.indexSelect(0, Tensor.of(new long[] {2}, 1)), java.util.Arrays.copyOfRange(vv, 12, 18), 0);
        values(v.embedding(Tensor.of(new long[] {1}, 1)), java.util.Arrays.copyOfRange(vv, 6, 12), 0);
        values(Tensor.cat(List.of(v.narrow(0, 2, 1), v.narrow(0, 0, 1)), 0), concat(java.util.Arrays.copyOfRange(vv, 12, 18),
                java.util.Arrays.copyOfRange(vv, 0, 6)), 0);
        Tensor conv = Functional.causalConv1d(v.unsqueeze(0), Tensor.ones(DType.F64, 6, 2), null); // y[t] = x[t-1] + x[t]
        double[] cv = conv.toDoubleArray();
        for (int i = 0; i < 6; i++) {
            assertEquals(vv[i], cv[i], 1e-15);
            assertEquals(vv[i] + vv[6 + i], cv[6 + i], 1e-15);
        }
        values(v.scatterAdd(1, Tensor.of(new long[] {1, 1, 1}, 3, 1), Tensor.ones(DType.F64, 3, 1)).select(1, 1),
                new double[] {vv[1] + 1, vv[7] + 1, vv[13] + 1}, 1e-15);
        values(v.cumprod(0).select(0, 2), new double[] {vv[0] * vv[6] * vv[12], vv[1] * vv[7] * vv[13], vv[2] * vv[8] * vv[14],
                vv[3] * vv[9] * vv[15], vv[4] * vv[10] * vv[16], vv[5] * vv[11] * vv[17]}, 1e-14);
    }

    private static double[] rowSums(double[] v, int rows, int n) {
        double[] s = new double[rows];
        for (int r = 0; r < rows; r++) for (int i = 0; i < n; i++) s[r] += v[r * n + i];
        return s;
    }

    private static double[] viaLoopSoftmax(double[] v, int rows, int n) {
        double[] out = new double[v.length];
        double[] sums = rowSums(Expect.map(v, Math::exp), rows, n);
        for (int r = 0; r < rows; r++) for (int i = 0; i < n; i++) out[r * n + i] = Math.exp(v[r * n + i]) / sums[r];
        return out;
    }

    private static double[] concat(double[] a, double[] b) {
        double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
