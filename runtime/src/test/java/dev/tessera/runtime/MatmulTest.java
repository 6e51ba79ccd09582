package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** matmul with NumPy semantics: 2-D, batched with broadcast batch dims, 1-D operands, non-contiguous operands. */
class MatmulTest {
    private final Generator g = new Generator(7);

    /** Reference batched product over already-broadcast operands read through {@link Tensor#get}. */
    private static double[] reference(Tensor a, Tensor b) {
        int[] as = a.shape(), bs = b.shape();
        int ra = as.length, rb = bs.length;
        int m = as[ra - 2], k = as[ra - 1], n = bs[rb - 1];
        int batchRank = Math.max(ra, rb) - 2;
        int[] batch = new int[batchRank];
        for (int i = 0; i < batchRank; i++) {
            int da = i - (batchRank - (ra - 2)) >= 0 ? as[i - (batchRank - (ra - 2))] : 1;
            int db = i - (batchRank - (rb - 2)) >= 0 ? bs[i - (batchRank - (rb - 2))] : 1;
            batch[i] = Math.max(da, db);
        }
        int nb = 1;
        for (int d : batch) nb *= d;
        double[] out = new double[nb * m * n];
        int[] bi = new int[batchRank];
        for (int p = 0; p < nb; p++) {
            int rem = p;
            for (int d = batchRank - 1; d >= 0; d--) { bi[d] = rem % batch[d]; rem /= batch[d]; }
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
                double s = 0;
                for (int q = 0; q < k; q++) s += a.get(index(bi, as, i, q)) * b.get(index(bi, bs, q, j));
                out[(p * m + i) * n + j] = s;
            }
        }
        return out;
    }

    /** The operand's index for broadcast batch index {@code bi} and matrix position (r, c). */
    private static int[] index(int[] bi, int[] shape, int r, int c) {
        int rank = shape.length;
        int[] idx = new int[rank];
        int lead = bi.length - (rank - 2);
        for (int d = 0; d < rank - 2; d++) idx[d] = shape[d] == 1 ? 0 : bi[d + lead];
        idx[rank - 2] = r;
        idx[rank - 1] = c;
        return idx;
    }

    @Test
    void handComputed2d() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
        // [1,2,3]·[7,9,11] = 58, [1,2,3]·[8,10,12] = 64, [4,5,6]·[7,9,11] = 139, [4,5,6]·[8,10,12] = 154
        values(a.matmul(b), new int[] {2, 2}, new double[] {58, 64, 139, 154}, 0);
        // bᵀ aᵀ = (ab)ᵀ, with transposed (non-contiguous) operands
        values(b.t().matmul(a.t()), new int[] {2, 2}, new double[] {58, 139, 64, 154}, 0);
        values(a.to(DType.F64).matmul(b.to(DType.F64)), new double[] {58, 64, 139, 154}, 0);
    }

    @Test
    void oneDimensionalOperands() {
        Tensor v = Tensor.of(new double[] {1, 2, 3}, 3);
        Tensor w = Tensor.of(new double[] {4, -5, 6}, 3);
        Tensor dot = v.matmul(w);
        Expect.shape(dot);
        assertEquals(4 - 10 + 18, dot.item(), 0);
        Tensor m = Tensor.of(new double[] {1, 0, 2, -1, 3, 1}, 3, 2); // rows [1,0],[2,-1],[3,1]
        values(v.matmul(m), new int[] {2}, new double[] {1 + 4 + 9, 0 - 2 + 3}, 0);
        values(m.t().matmul(v), new int[] {2}, new double[] {14, 1}, 0);
        // vector against a batch: [3] @ [2,3,2] -> [2,2]; [2,2,3] @ [3] -> [2,2]
        Tensor batch = Tensor.of(new double[] {1, 0, 2, -1, 3, 1, 0, 1, 1, 0, 2, 2}, 2, 3, 2);
        values(v.matmul(batch), new int[] {2, 2}, new double[] {14, 1, 8, 7}, 0);
        Tensor bt = batch.transpose(1, 2); // [2,2,3]
        values(bt.matmul(v), new int[] {2, 2}, new double[] {14, 1, 8, 7}, 0);
    }

    @Test
    void batchedAndBroadcastShapes() {
        int[][][] cases = {
            {{2, 3, 4}, {2, 4, 5}},
            {{2, 3, 4}, {4, 5}},          // folded batch
            {{3, 4}, {2, 4, 5}},          // 2-D left against a batch
            {{2, 1, 3, 4}, {5, 4, 2}},    // broadcast batch [2,5]
            {{1, 3, 4}, {3, 1, 4, 2}},    // broadcast batch [3,1]
            {{4, 1, 2, 3}, {1, 2, 3, 2}}, // [4,2]
            {{17, 19}, {19, 23}},         // sizes that are no multiple of any tile
        };
        for (int[][] c : cases) {
            for (DType dt : new DType[] {DType.F32, DType.F64}) {
                Tensor a = Tensor.randn(g, c[0]).to(dt), b = Tensor.randn(g, c[1]).to(dt);
                Tensor out = a.matmul(b);
                double[] want = reference(a, b);
                values(out, want, dt == DType.F32 ? 1e-5 : 1e-12);
                assertEquals(dt, out.dtype());
            }
        }
        Expect.shape(Tensor.zeros(2, 1, 3, 4).matmul(Tensor.zeros(5, 4, 2)), 2, 5, 3, 2);
        Expect.shape(Tensor.zeros(3, 4).matmul(Tensor.zeros(2, 4, 5)), 2, 3, 5);
    }

    @Test
    void nonContiguousOperands() {
        Tensor base = Tensor.randn(g, 2, 6, 5);
        Tensor a = base.transpose(1, 2);                 // [2,5,6], strided
        Tensor b = Tensor.randn(g, 6, 8).slice(1, 0, 8, 2); // [6,4], step 2
        values(a.matmul(b), reference(a, b), 1e-5);
        Tensor e = Tensor.randn(g, 1, 6, 3).expand(2, 6, 3); // expanded batch, stride 0
        values(a.matmul(e), reference(a, e), 1e-5);
        Tensor p = Tensor.randn(g, 3, 2, 4).permute(1, 0, 2); // [2,3,4]
        Tensor q = Tensor.randn(g, 4, 2, 3).permute(1, 0, 2); // [2,4,3]
        values(p.matmul(q), reference(p, q), 1e-5);
        Tensor narrowRows = Tensor.randn(g, 5, 6).narrow(0, 1, 3); // [3,6] with offset
        values(narrowRows.matmul(b), reference(narrowRows, b), 1e-5);
    }

    @Test
    void mixedAndLowPrecisionDtypes() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new double[] {1, 0, 0.5, 1}, 2, 2);
        Tensor ab = a.matmul(b);
        assertEquals(DType.F64, ab.dtype());
        values(ab, new double[] {2, 2, 5, 4}, 0);
        Tensor h = a.to(DType.BF16).matmul(a.to(DType.BF16));
        assertEquals(DType.BF16, h.dtype());
        values(h, new double[] {7, 10, 15, 22}, 0);
    }

    @Test
    void errors() {
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).matmul(Tensor.zeros(2, 3)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3).matmul(Tensor.zeros(4)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 2, 3).matmul(Tensor.zeros(3, 3, 2)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.scalar(1).matmul(Tensor.zeros(1)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new int[] {1}, 1, 1).matmul(Tensor.zeros(1, 1)));
    }
}
