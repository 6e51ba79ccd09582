package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.ramp;
import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** embedding, indexSelect, gather and scatterAdd: forward values and the gradients that scatter back. */
class IndexingOpsTest {
    @Test
    void embedding() {
        Tensor table = Tensor.of(new float[] {0, 1, 10, 11, 20, 21, 30, 31}, 4, 2);
        Tensor idx = Tensor.of(new long[] {3, 0, 3, 1, 2, 0}, 2, 3);
        Tensor e = table.embedding(idx);
        values(e, new int[] {2, 3, 2}, new double[] {30, 31, 0, 1, 30, 31, 10, 11, 20, 21, 0, 1}, 0);
        // I32 and U8 indices, 0-d index, transposed table
        values(table.embedding(Tensor.of(new int[] {2}, 1)), new int[] {1, 2}, new double[] {20, 21}, 0);
        values(table.embedding(Tensor.ofBytes(new byte[] {1, 1}, 2)), new int[] {2, 2}, new double[] {10, 11, 10, 11}, 0);
        Expect.shape(table.embedding(Tensor.scalar(1, DType.I64)), 2);
        Tensor tt = Tensor.of(new float[] {0, 10, 20, 1, 11, 21}, 2, 3).t(); // rows [0,1],[10,11],[20,21]
        values(tt.embedding(Tensor.of(new long[] {2, 0}, 2)), new double[] {20, 21, 0, 1}, 0);
        // gradient: rows accumulate once per lookup
        Tensor w = Tensor.of(new double[] {0, 1, 10, 11, 20, 21, 30, 31}, 4, 2).requiresGrad(true);
        w.embedding(idx).sum().backward();
        values(w.grad(), new double[] {2, 2, 1, 1, 1, 1, 2, 2}, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> table.embedding(Tensor.of(new long[] {4}, 1)));
        assertThrows(IndexOutOfBoundsException.class, () -> table.embedding(Tensor.of(new long[] {-1}, 1)));
        assertThrows(IllegalArgumentException.class, () -> table.embedding(Tensor.of(new float[] {1}, 1)));
    }

    @Test
    void indexSelect() {
        Tensor x = Tensor.of(ramp(12, 1, 0), 3, 4);
        values(x.indexSelect(0, Tensor.of(new long[] {2, 0, 2}, 3)), new int[] {3, 4}, new double[] {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, 0);
        values(x.indexSelect(1, Tensor.of(new int[] {3, 1}, 2)), new int[] {3, 2}, new double[] {3, 1, 7, 5, 11, 9}, 0);
        values(x.indexSelect(-1, Tensor.of(new long[0], 0)), new int[] {3, 0}, new double[0], 0);
        // transposed input: columns of x become rows
        values(x.t().indexSelect(0, Tensor.of(new long[] {1, 1}, 2)), new int[] {2, 3}, new double[] {1, 5, 9, 1, 5, 9}, 0);
        // 3-D, middle dim
        Tensor c = Tensor.of(ramp(24, 1, 0), 2, 3, 4);
        Tensor s = c.indexSelect(1, Tensor.of(new long[] {2, 0}, 2));
        Expect.shape(s, 2, 2, 4);
        for (int i = 0; i < 2; i++) for (int k = 0; k < 4; k++) {
            assertEquals(12 * i + 8 + k, s.get(i, 0, k), 0);
            assertEquals(12 * i + k, s.get(i, 1, k), 0);
        }
        Tensor w = Tensor.of(ramp(12, 1, 0), 3, 4).requiresGrad(true);
        w.indexSelect(1, Tensor.of(new long[] {0, 3, 0}, 3)).mul(Tensor.of(new double[] {1, 2, 3}, 3)).sum().backward();
        values(w.grad(), new double[] {4, 0, 0, 2, 4, 0, 0, 2, 4, 0, 0, 2}, 0);
        assertThrows(IllegalArgumentException.class, () -> x.indexSelect(0, Tensor.of(new long[] {0, 1}, 1, 2)));
        assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(1, Tensor.of(new long[] {4}, 1)));
    }

    /**
     * An F32 embedding's gradient (the SIMD row path): each table row is the sum, in index order, of the gradient rows
     * that picked it, for widths of whole vectors, a tail only, and more than one block of columns; and index_select
     * along a middle dimension (outer > 1).
     */
    @Test
    void f32RowGradientsAddInIndexOrder() {
        for (int inner : new int[] {64, 5, 1030, 2051}) {
            int size = 7, n = 40;
            long[] idx = new long[n];
            for (int i = 0; i < n; i++) idx[i] = (i * 5L + i / 3) % size; // repeats, out of order
            Tensor table = Tensor.zeros(size, inner).requiresGrad(true);
            Tensor g = Tensor.randn(new Generator(inner), n, inner);
            table.embedding(Tensor.of(idx, n)).backward(g);
            float[] got = table.grad().toFloatArray(), gv = g.toFloatArray(), want = new float[size * inner];
            for (int i = 0; i < n; i++) for (int c = 0; c < inner; c++) want[(int) idx[i] * inner + c] += gv[i * inner + c];
            org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, "inner " + inner);
        }
        Tensor w = Tensor.zeros(3, 4, 20).requiresGrad(true);
        Tensor g = Tensor.randn(new Generator(5), 3, 2, 20);
        w.indexSelect(1, Tensor.of(new long[] {3, 3}, 2)).backward(g);
        float[] got = w.grad().toFloatArray(), gv = g.toFloatArray();
        for (int o = 0; o < 3; o++) {
            for (int c = 0; c < 20; c++) {
                assertEquals(gv[(o * 2) * 20 + c] + gv[(o * 2 + 1) * 20 + c], got[(o * 4 + 3) * 20 + c], 0, "o " + o + " c " + c);
                assertEquals(0, got[(o * 4 + 1) * 20 + c], 0);
            }
        }
    }

    @Test
    void gather() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        values(x.gather(1, Tensor.of(new long[] {2, 0, 0, 1, 1, 1}, 2, 3)), new int[] {2, 3}, new double[] {3, 1, 1, 5, 5, 5}, 0);
        values(x.gather(1, Tensor.of(new long[] {1, 2}, 2, 1)), new int[] {2, 1}, new double[] {2, 6}, 0);
        // along dim 0: out[i][j] = x[idx[i][j]][j]
        values(x.gather(0, Tensor.of(new long[] {1, 0, 1}, 1, 3)), new int[] {1, 3}, new double[] {4, 2, 6}, 0);
        values(x.gather(0, Tensor.of(new long[] {1, 1, 0, 0, 0, 1, 1, 0, 1}, 3, 3)), new int[] {3, 3},
                new double[] {4, 5, 3, 1, 2, 6, 4, 2, 6}, 0);
        // non-contiguous input and index
        Tensor xt = x.t(); // [[1,4],[2,5],[3,6]]
        Tensor it = Tensor.of(new long[] {1, 0, 1, 0, 1, 1}, 2, 3).t(); // [[1,0],[0,1],[1,1]]
        values(xt.gather(1, it), new int[] {3, 2}, new double[] {4, 1, 2, 5, 6, 6}, 0);
        Tensor w = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
        w.gather(1, Tensor.of(new long[] {2, 2, 0, 1}, 2, 2)).sum().backward();
        values(w.grad(), new double[] {0, 0, 2, 1, 1, 0}, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> x.gather(1, Tensor.of(new long[] {3, 0, 0, 0, 0, 0}, 2, 3)));
        assertThrows(IllegalArgumentException.class, () -> x.gather(1, Tensor.of(new long[] {0, 0, 0}, 3)));
    }

    @Test
    void scatterAdd() {
        Tensor base = Tensor.of(new float[] {1, 1, 1, 1, 1, 1}, 2, 3);
        Tensor idx = Tensor.of(new long[] {0, 2, 0, 1, 1, 1}, 2, 3);
        Tensor src = Tensor.of(new float[] {10, 20, 30, 40, 50, 60}, 2, 3);
        Tensor out = base.scatterAdd(1, idx, src);
        // row 0: index 0 gets 10 + 30, index 2 gets 20; row 1: index 1 gets 40 + 50 + 60
        values(out, new int[] {2, 3}, new double[] {41, 1, 21, 1, 151, 1}, 0);
        values(base, new double[] {1, 1, 1, 1, 1, 1}, 0); // input untouched
        // along dim 0 with a smaller index, into a 3-row tensor
        Tensor z = Tensor.zeros(DType.F64, 3, 2);
        Tensor i0 = Tensor.of(new long[] {2, 0, 2, 2}, 2, 2);
        Tensor s0 = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2);
        values(z.scatterAdd(0, i0, s0), new int[] {3, 2}, new double[] {0, 2, 0, 0, 4, 4}, 0);
        // transposed source
        values(z.scatterAdd(0, i0, s0.t()), new double[] {0, 3, 0, 0, 3, 4}, 0);
        // gradients: d/dbase = 1 everywhere, d/dsrc = upstream at the scattered-to positions
        Tensor b = Tensor.zeros(DType.F64, 2, 3).requiresGrad(true);
        Tensor sv = Tensor.of(new double[] {10, 20, 30, 40, 50, 60}, 2, 3).requiresGrad(true);
        Tensor weights = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        b.scatterAdd(1, idx, sv).mul(weights).sum().backward();
        values(b.grad(), new double[] {1, 2, 3, 4, 5, 6}, 0);
        values(sv.grad(), new double[] {1, 3, 1, 5, 5, 5}, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> base.scatterAdd(1, Tensor.of(new long[] {0, 0, 0, 0, 0, 3}, 2, 3), src));
        assertThrows(IllegalArgumentException.class, () -> base.scatterAdd(1, idx, Tensor.zeros(2, 2)));
    }
}
