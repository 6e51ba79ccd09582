package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.ramp;
import static dev.tessera.runtime.Expect.values;
import static dev.tessera.runtime.Expect.viaGet;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Views (reshape, permute, narrow, slice, select, expand, squeeze, unsqueeze, flatten) and cat, stack, split, chunk, pad, triu, tril. */
class ShapeOpsTest {
    /** [[0,1,2,3],[4,5,6,7],[8,9,10,11]]. */
    private static Tensor m34() { return Tensor.of(ramp(12, 1, 0), 3, 4); }

    @Test
    void reshapeAndView() {
        Tensor x = m34();
        Tensor r = x.reshape(2, -1);
        values(r, new int[] {2, 6}, ramp(12, 1, 0), 0);
        assertTrue(r.sharesStorageWith(x));
        assertEquals(5, x.reshape(4, 3).get(1, 2), 0);
        Tensor v = x.view(2, 2, 3);
        assertTrue(v.sharesStorageWith(x));
        assertEquals(7, v.get(1, 0, 1), 0);
        // transposed: view refuses, reshape copies in the transposed order
        Tensor t = x.t();
        assertThrows(IllegalArgumentException.class, () -> t.view(12));
        Tensor tr = t.reshape(12);
        values(tr, new double[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, 0);
        assertFalse(tr.sharesStorageWith(x));
        // a view of a view writes through to the base
        try (Grad.Region g = Grad.noGrad()) {
            x.reshape(12).narrow(0, 5, 1).fill(-1);
        }
        assertEquals(-1, x.get(1, 1), 0);
        assertThrows(IllegalArgumentException.class, () -> x.reshape(5, -1));
        assertThrows(IllegalArgumentException.class, () -> x.reshape(-1, -1));
    }

    @Test
    void permuteTransposeContiguous() {
        Tensor x = Tensor.of(ramp(24, 1, 0), 2, 3, 4); // x[i][j][k] = 12i + 4j + k
        Tensor p = x.permute(2, 0, 1); // [4,2,3], p[k][i][j]
        Expect.shape(p, 4, 2, 3);
        assertFalse(p.isContiguous());
        for (int k = 0; k < 4; k++) for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) assertEquals(12 * i + 4 * j + k, p.get(k, i, j), 0);
        Tensor c = p.contiguous();
        assertTrue(c.isContiguous());
        assertArrayEquals(viaGet(p), c.toDoubleArray(), 0);
        assertArrayEquals(new long[] {6, 3, 1}, c.strides());
        Tensor t = x.transpose(-1, 0); // [4,3,2]
        assertEquals(12 + 8 + 3, t.get(3, 2, 1), 0);
        assertTrue(x.contiguous().sharesStorageWith(x));
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1));
    }

    @Test
    void narrowSliceSelect() {
        Tensor x = m34();
        values(x.narrow(1, 1, 2), new int[] {3, 2}, new double[] {1, 2, 5, 6, 9, 10}, 0);
        values(x.narrow(0, 2, 1), new int[] {1, 4}, new double[] {8, 9, 10, 11}, 0);
        values(x.slice(1, 0, 4, 2), new int[] {3, 2}, new double[] {0, 2, 4, 6, 8, 10}, 0);
        values(x.slice(1, 1, 100, 2), new int[] {3, 2}, new double[] {1, 3, 5, 7, 9, 11}, 0);
        values(x.slice(0, -2, 3, 1), new int[] {2, 4}, new double[] {4, 5, 6, 7, 8, 9, 10, 11}, 0);
        values(x.slice(1, -1, 4, 1), new int[] {3, 1}, new double[] {3, 7, 11}, 0);
        values(x.slice(1, 3, 1, 1), new int[] {3, 0}, new double[0], 0);
        values(x.slice(0, 0, 3, 3).slice(1, 1, 4, 2), new int[] {1, 2}, new double[] {1, 3}, 0);
        values(x.select(0, 1), new int[] {4}, new double[] {4, 5, 6, 7}, 0);
        values(x.select(1, -1), new int[] {3}, new double[] {3, 7, 11}, 0);
        values(x.t().select(0, 2), new int[] {3}, new double[] {2, 6, 10}, 0);
        // slices of transposed views
        values(x.t().slice(0, 1, 4, 2), new int[] {2, 3}, new double[] {1, 5, 9, 3, 7, 11}, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(1, 3, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> x.select(0, 3));
        assertThrows(IllegalArgumentException.class, () -> x.slice(0, 0, 3, 0));
    }

    @Test
    void expandSqueezeUnsqueezeFlatten() {
        Tensor col = Tensor.of(new double[] {1, 2, 3}, 3, 1);
        Tensor e = col.expand(2, 3, 4);
        Expect.shape(e, 2, 3, 4);
        assertArrayEquals(new long[] {0, 1, 0}, e.strides());
        assertEquals(3, e.get(1, 2, 3), 0);
        values(col.expand(-1, 2), new int[] {3, 2}, new double[] {1, 1, 2, 2, 3, 3}, 0);
        assertThrows(IllegalArgumentException.class, () -> col.expand(4, 4));
        Tensor s = Tensor.zeros(1, 3, 1, 2);
        Expect.shape(s.squeeze(), 3, 2);
        Expect.shape(s.squeeze(2), 1, 3, 2);
        Expect.shape(s.squeeze(-4), 3, 1, 2);
        Expect.shape(s.squeeze(1), 1, 3, 1, 2);
        Tensor v = Tensor.of(new double[] {1, 2, 3}, 3);
        Expect.shape(v.unsqueeze(0), 1, 3);
        Expect.shape(v.unsqueeze(-1), 3, 1);
        values(v.unsqueeze(1).expand(3, 2), new double[] {1, 1, 2, 2, 3, 3}, 0);
        Tensor x = Tensor.of(ramp(24, 1, 0), 2, 3, 4);
        Expect.shape(x.flatten(), 24);
        Expect.shape(x.flatten(1, 2), 2, 12);
        Expect.shape(x.flatten(0, 1), 6, 4);
        values(x.transpose(0, 1).flatten(0, 1), new int[] {6, 4}, viaGet(x.transpose(0, 1)), 0);
        values(x.transpose(1, 2).flatten(), viaGet(x.transpose(1, 2)), 0);
        Expect.shape(Tensor.scalar(5).flatten(), 1);
    }

    @Test
    void cat() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {5, 6}, 1, 2);
        values(Tensor.cat(List.of(a, b), 0), new int[] {3, 2}, new double[] {1, 2, 3, 4, 5, 6}, 0);
        Tensor c = Tensor.of(new float[] {7, 8, 9, 10, 11, 12}, 2, 3);
        values(Tensor.cat(List.of(a, c), 1), new int[] {2, 5}, new double[] {1, 2, 7, 8, 9, 3, 4, 10, 11, 12}, 0);
        // non-contiguous parts and negative dim
        values(Tensor.cat(List.of(a.t(), a), -1), new int[] {2, 4}, new double[] {1, 3, 1, 2, 2, 4, 3, 4}, 0);
        // an empty part
        values(Tensor.cat(List.of(a, Tensor.zeros(0, 2)), 0), new int[] {2, 2}, new double[] {1, 2, 3, 4}, 0);
        // mixed dtypes promote
        Tensor mixed = Tensor.cat(List.of(Tensor.of(new int[] {1, 2}, 2), Tensor.of(new double[] {0.5}, 1)), 0);
        assertEquals(DType.F64, mixed.dtype());
        values(mixed, new double[] {1, 2, 0.5}, 0);
        assertThrows(IllegalArgumentException.class, () -> Tensor.cat(List.of(a, c), 0));
        assertThrows(IllegalArgumentException.class, () -> Tensor.cat(List.of(), 0));
    }

    @Test
    void stack() {
        Tensor a = Tensor.of(new double[] {1, 2, 3}, 3), b = Tensor.of(new double[] {4, 5, 6}, 3);
        values(Tensor.stack(List.of(a, b), 0), new int[] {2, 3}, new double[] {1, 2, 3, 4, 5, 6}, 0);
        values(Tensor.stack(List.of(a, b), 1), new int[] {3, 2}, new double[] {1, 4, 2, 5, 3, 6}, 0);
        values(Tensor.stack(List.of(a, b), -1), new int[] {3, 2}, new double[] {1, 4, 2, 5, 3, 6}, 0);
        Tensor m = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2);
        values(Tensor.stack(List.of(m, m.t()), 2), new int[] {2, 2, 2}, new double[] {1, 1, 2, 3, 3, 2, 4, 4}, 0);
        assertThrows(IllegalArgumentException.class, () -> Tensor.stack(List.of(a, m), 0));
    }

    @Test
    void splitAndChunk() {
        Tensor x = Tensor.of(ramp(14, 1, 0), 2, 7);
        List<Tensor> s = x.split(3, 1);
        assertEquals(3, s.size());
        values(s.get(0), new int[] {2, 3}, new double[] {0, 1, 2, 7, 8, 9}, 0);
        values(s.get(1), new int[] {2, 3}, new double[] {3, 4, 5, 10, 11, 12}, 0);
        values(s.get(2), new int[] {2, 1}, new double[] {6, 13}, 0);
        assertTrue(s.get(1).sharesStorageWith(x));
        List<Tensor> c = x.chunk(3, 1); // ceil(7/3) = 3 per chunk: 3, 3, 1
        assertEquals(3, c.size());
        Expect.shape(c.get(2), 2, 1);
        List<Tensor> c4 = Tensor.zeros(6).chunk(4, 0); // ceil(6/4) = 2: three chunks of 2, as in PyTorch
        assertEquals(3, c4.size());
        List<Tensor> rows = x.chunk(2, 0);
        values(rows.get(1), new int[] {1, 7}, ramp(7, 1, 7), 0);
        List<Tensor> ts = x.t().split(4, 0); // [7,2] -> 4 + 3
        values(ts.get(1), new int[] {3, 2}, new double[] {4, 11, 5, 12, 6, 13}, 0);
        assertThrows(IllegalArgumentException.class, () -> x.split(0, 0));
    }

    @Test
    void pad() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        values(x.pad(new int[] {1, 2}, 0), new int[] {2, 5}, new double[] {0, 1, 2, 0, 0, 0, 3, 4, 0, 0}, 0);
        values(x.pad(new int[] {0, 0, 1, 0}, -1), new int[] {3, 2}, new double[] {-1, -1, 1, 2, 3, 4}, 0);
        values(x.pad(new int[] {1, 0, 0, 1}, 9), new int[] {3, 3}, new double[] {9, 1, 2, 9, 3, 4, 9, 9, 9}, 0);
        values(x.t().pad(new int[] {0, 1}, 0), new int[] {2, 3}, new double[] {1, 3, 0, 2, 4, 0}, 0);
        assertEquals(DType.F32, x.pad(new int[] {1, 1}, 0).dtype());
        Tensor i = Tensor.of(new long[] {5}, 1).pad(new int[] {2, 0}, 7);
        assertArrayEquals(new long[] {7, 7, 5}, i.toLongArray());
        assertThrows(IllegalArgumentException.class, () -> x.pad(new int[] {1}, 0));
        assertThrows(IllegalArgumentException.class, () -> x.pad(new int[] {1, 1, 1, 1, 1, 1}, 0));
        assertThrows(IllegalArgumentException.class, () -> x.pad(new int[] {-1, 0}, 0));
    }

    @Test
    void triuTril() {
        Tensor x = Tensor.of(ramp(12, 1, 1), 3, 4); // 1..12
        values(x.triu(0), new int[] {3, 4}, new double[] {1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12}, 0);
        values(x.triu(1), new double[] {0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12}, 0);
        values(x.triu(-1), new double[] {1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12}, 0);
        values(x.tril(0), new double[] {1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0}, 0);
        values(x.tril(-1), new double[] {0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}, 0);
        values(x.tril(2), new double[] {1, 2, 3, 0, 5, 6, 7, 8, 9, 10, 11, 12}, 0);
        // batched and transposed
        Tensor b = Tensor.stack(List.of(x.narrow(1, 0, 3), x.narrow(1, 1, 3)), 0); // [2,3,3]
        values(b.tril(0), new int[] {2, 3, 3}, new double[] {1, 0, 0, 5, 6, 0, 9, 10, 11, 2, 0, 0, 6, 7, 0, 10, 11, 12}, 0);
        values(x.t().triu(0), new int[] {4, 3}, new double[] {1, 5, 9, 0, 6, 10, 0, 0, 11, 0, 0, 0}, 0);
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3).triu(0));
    }
}
