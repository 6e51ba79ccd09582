package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Forward values of sum, mean, max, min, argmax, argmin, var and logsumexp over any dims, with keepdim. */
class ReductionOpsTest {
    /** x[i][j][k] = 100 i + 10 j + k over [2, 3, 4]. */
    private static Tensor cube(DType dt) {
        double[] v = new double[24];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++) v[i * 12 + j * 4 + k] = 100 * i + 10 * j + k;
        return Tensor.of(v, 2, 3, 4).to(dt);
    }

    @Test
    void sumOverAnyDims() {
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            Tensor x = cube(dt);
            // all: 12·(0+100)/... = Σ_i Σ_j Σ_k = 12·100 + 8·(0+10+20) + 6·(0+1+2+3) = 1200 + 240 + 36
            Tensor all = x.sum();
            Expect.shape(all);
            assertEquals(1476, all.item(), 0);
            assertEquals(dt, all.dtype());
            // over k: 4(100i + 10j) + 6
            values(x.sum(2), new int[] {2, 3}, new double[] {6, 46, 86, 406, 446, 486}, 0);
            values(x.sum(new int[] {-1}, true), new int[] {2, 3, 1}, new double[] {6, 46, 86, 406, 446, 486}, 0);
            // over i: 100 + 2(10j + k)
            values(x.sum(0), new int[] {3, 4}, new double[] {100, 102, 104, 106, 120, 122, 124, 126, 140, 142, 144, 146}, 0);
            // over i and k: 4·100 + 8·10 j + 2·6
            values(x.sum(new int[] {0, 2}, false), new int[] {3}, new double[] {412, 492, 572}, 0);
            values(x.sum(new int[] {2, 0}, true), new int[] {1, 3, 1}, new double[] {412, 492, 572}, 0);
            // over j and k: 12·100 i + 4·30 + 3·6
            values(x.sum(new int[] {1, 2}, false), new int[] {2}, new double[] {138, 1338}, 0);
            values(x.sum(new int[] {0, 1, 2}, true), new int[] {1, 1, 1}, new double[] {1476}, 0);
        }
    }

    @Test
    void sumOfNonContiguousViews() {
        Tensor x = cube(DType.F32);
        // transpose(0,2) -> [4,3,2]; sum over its last dim (the original i) = 100 + 2(10j + k) at [k][j]
        Tensor t = x.transpose(0, 2);
        values(t.sum(2), new int[] {4, 3}, new double[] {100, 120, 140, 102, 122, 142, 104, 124, 144, 106, 126, 146}, 0);
        // slice with step over k (k = 1, 3), then sum over j,k: Σ_j Σ_k (100 i + 10 j + k) = 6·100 i + 2·30 + 3·4
        values(x.slice(2, 1, 4, 2).sum(new int[] {1, 2}, false), new double[] {72, 672}, 0);
        // expanded: [1,4] → [5,4], sum over rows = 5·row
        Tensor e = Tensor.of(new float[] {1, 2, 3, 4}, 1, 4).expand(5, 4);
        values(e.sum(0), new double[] {5, 10, 15, 20}, 0);
        values(e.mean(new int[] {0, 1}, false), new double[] {2.5}, 0);
    }

    @Test
    void sumOfLongRowsIsAccurate() {
        // 40000 ones in F32 cross several blocks and SIMD lanes; sum must be exact
        Tensor ones = Tensor.ones(2, 40000);
        values(ones.sum(1), new double[] {40000, 40000}, 0);
        // a ramp: Σ_{k<n} k = n(n-1)/2
        int n = 20001;
        Tensor r = Tensor.arange(0, n, 1, DType.F64);
        assertEquals((double) n * (n - 1) / 2, r.sum().item(), 0);
        // integer sums are exact and I64
        Tensor li = Tensor.of(new int[] {1, 2, 3, 2_000_000_000, 2_000_000_000, 1}, 2, 3);
        assertEquals(DType.I64, li.sum().dtype());
        assertArrayEquals(new long[] {6, 4_000_000_001L}, li.sum(1).toLongArray());
    }

    @Test
    void mean() {
        Tensor x = cube(DType.F64);
        assertEquals(1476 / 24.0, x.mean().item(), 1e-12);
        values(x.mean(2), new int[] {2, 3}, new double[] {1.5, 11.5, 21.5, 101.5, 111.5, 121.5}, 1e-12);
        values(x.mean(new int[] {0, 2}, true), new int[] {1, 3, 1}, new double[] {51.5, 61.5, 71.5}, 1e-12);
        values(x.transpose(1, 2).mean(new int[] {2}, false), new int[] {2, 4}, new double[] {10, 11, 12, 13, 110, 111, 112, 113}, 1e-12);
        // integer input averages in floating point
        Tensor i = Tensor.of(new int[] {1, 2}, 2);
        assertEquals(DType.F32, i.mean().dtype());
        assertEquals(1.5, i.mean().item(), 0);
    }

    @Test
    void maxMinArgmaxArgmin() {
        Tensor m = Tensor.of(new float[] {3, -1, 7, 2, 9, 0, -4, 5, 1, 8, 6, -2}, 3, 4);
        assertEquals(9, m.max().item(), 0);
        assertEquals(-4, m.min().item(), 0);
        values(m.max(new int[] {1}, false), new int[] {3}, new double[] {7, 9, 8}, 0);
        values(m.min(new int[] {1}, true), new int[] {3, 1}, new double[] {-1, -4, -2}, 0);
        values(m.max(new int[] {0}, true), new int[] {1, 4}, new double[] {9, 8, 7, 5}, 0);
        values(m.min(new int[] {0}, false), new int[] {4}, new double[] {1, -1, -4, -2}, 0);
        Tensor am = m.argmax(1, false);
        assertEquals(DType.I64, am.dtype());
        assertArrayEquals(new long[] {2, 0, 1}, am.toLongArray());
        assertArrayEquals(new long[] {1, 2, 3}, m.argmin(1, false).toLongArray());
        assertArrayEquals(new long[] {1, 2, 0, 1}, m.argmax(0, false).toLongArray());
        Tensor amk = m.argmin(-2, true);
        Expect.shape(amk, 1, 4);
        assertArrayEquals(new long[] {2, 0, 1, 2}, amk.toLongArray());
        // transposed input: argmax along dim 1 of m.t() is argmax along dim 0 of m
        assertArrayEquals(new long[] {1, 2, 0, 1}, m.t().argmax(1, false).toLongArray());
        // ties: the first index wins
        Tensor tie = Tensor.of(new double[] {1, 3, 3, 0, 0, -1}, 6);
        assertArrayEquals(new long[] {1}, tie.argmax(0, true).toLongArray());
        assertArrayEquals(new long[] {5}, tie.argmin(0, true).toLongArray());
        assertArrayEquals(new long[] {0}, Tensor.of(new double[] {2, 2, 2}, 3).argmin(0, false).toLongArray());
        // multi-dim max on a cube
        Tensor x = cube(DType.F64);
        values(x.max(new int[] {0, 2}, false), new double[] {103, 113, 123}, 0);
        values(x.min(new int[] {1, 2}, true), new int[] {2, 1, 1}, new double[] {0, 100}, 0);
        // NaN propagates through max/min
        assertEquals(Double.NaN, Tensor.of(new double[] {1, Double.NaN, 3}, 3).max().item());
    }

    @Test
    void maxOfLongF32RowUsesAllLanes() {
        float[] v = new float[1000];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.sin(i);
        v[517] = 3f;
        v[999] = -3f; // in the scalar tail
        Tensor t = Tensor.of(v, 1000);
        assertEquals(3, t.max().item(), 0);
        assertEquals(-3, t.min().item(), 0);
        assertArrayEquals(new long[] {517}, t.argmax(0, false).toLongArray());
        assertArrayEquals(new long[] {999}, t.argmin(0, false).toLongArray());
    }

    @Test
    void var() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 2, 4, 6, 8}, 2, 4);
        // row 0: mean 2.5, Σ(x-m)² = 5; row 1: mean 5, Σ = 20
        values(x.var(new int[] {1}, true, false), new int[] {2}, new double[] {5 / 3.0, 20 / 3.0}, 1e-12);
        values(x.var(new int[] {1}, false, true), new int[] {2, 1}, new double[] {1.25, 5}, 1e-12);
        // columns: pairs (1,2),(2,4),(3,6),(4,8): Σ(x-m)² = d²/2
        values(x.var(new int[] {0}, true, false), new double[] {0.5, 2, 4.5, 8}, 1e-12);
        // all: mean 30/8 = 3.75; Σx² = 30 + 120 = 150; Σ(x-m)² = 150 - 8·3.75² = 37.5
        assertEquals(37.5 / 7, x.var(new int[0], true, false).item(), 1e-12);
        assertEquals(37.5 / 8, x.var(new int[] {0, 1}, false, false).item(), 1e-12);
        // non-contiguous: transposed gives the same column variances
        values(x.t().var(new int[] {1}, true, true), new int[] {4, 1}, new double[] {0.5, 2, 4.5, 8}, 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new double[] {1}, 1).var(new int[] {0}, true, false));
    }

    @Test
    void logsumexp() {
        Tensor x = Tensor.of(new double[] {0, 0, Math.log(3), 1, 2, 3}, 2, 3);
        // row 0: log(1 + 1 + 3) = log 5; row 1: log(e + e² + e³)
        double r1 = Math.log(Math.E + Math.exp(2) + Math.exp(3));
        values(x.logsumexp(new int[] {1}, false), new int[] {2}, new double[] {Math.log(5), r1}, 1e-12);
        values(x.logsumexp(new int[] {-1}, true), new int[] {2, 1}, new double[] {Math.log(5), r1}, 1e-12);
        values(x.logsumexp(new int[] {0}, false), new double[] {Math.log(1 + Math.E), Math.log(1 + Math.exp(2)), Math.log(3 + Math.exp(3))}, 1e-12);
        assertEquals(Math.log(5 + Math.E + Math.exp(2) + Math.exp(3)), x.logsumexp(new int[0], false).item(), 1e-12);
        // stable for large values: log(2 e^1000) = 1000 + log 2
        Tensor big = Tensor.of(new float[] {1000, 1000, -1000, -1000}, 2, 2);
        values(big.logsumexp(new int[] {1}, false), new double[] {1000 + Math.log(2), -1000 + Math.log(2)}, 1e-6);
        // a row of -inf gives -inf
        Tensor neg = Tensor.of(new double[] {Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY}, 1, 2);
        assertEquals(Double.NEGATIVE_INFINITY, neg.logsumexp(new int[] {1}, false).item());
        // transposed input
        values(x.t().logsumexp(new int[] {0}, false), new double[] {Math.log(5), r1}, 1e-12);
        // cube over two dims, against a direct loop
        Tensor c = cube(DType.F64).mul(0.01);
        double[] want = new double[3];
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int i = 0; i < 2; i++) for (int k = 0; k < 4; k++) s += Math.exp(0.01 * (100 * i + 10 * j + k));
            want[j] = Math.log(s);
        }
        values(c.logsumexp(new int[] {0, 2}, true), new int[] {1, 3, 1}, want, 1e-12);
    }

    @Test
    void badDims() {
        Tensor x = Tensor.zeros(2, 3);
        assertThrows(IndexOutOfBoundsException.class, () -> x.sum(2));
        assertThrows(IllegalArgumentException.class, () -> x.sum(new int[] {1, -1}, false));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(0, 3).max(new int[] {0}, false));
        values(Tensor.zeros(0, 3).sum(0), new int[] {3}, new double[] {0, 0, 0}, 0);
    }

    @Test
    void sumsOverLeadingDimsAddRowsInOrder() {
        try (Scope s = Scope.open()) {
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                for (int cols : new int[] {1, 15, 16, 37, 600}) {
                    Tensor x = Tensor.randn(new Generator(cols), 3, 50, cols).to(t);
                    double[] v = x.toDoubleArray();
                    double[] got = x.sum(new int[] {0, 1}, false).toDoubleArray();
                    double[] kept = x.sum(new int[] {0, 1}, true).toDoubleArray();
                    for (int c = 0; c < cols; c++) {
                        double want = 0;
                        for (int r = 0; r < 150; r++) want += v[r * cols + c];
                        org.junit.jupiter.api.Assertions.assertEquals(want, got[c], t == DType.F32 ? 1e-4 : 1e-12, t + " cols " + cols + " col " + c);
                        org.junit.jupiter.api.Assertions.assertEquals(got[c], kept[c], 0.0);
                    }
                    // The same bits every time: rows are added in order, whatever the threads.
                    org.junit.jupiter.api.Assertions.assertArrayEquals(got, x.sum(new int[] {0, 1}, false).toDoubleArray(), 0.0);
                }
            }
        }
    }
}
