package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Views share storage: writes through them reach the base; strides and offsets are what the layout says. */
class ViewSemanticsTest {
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() { scope.close(); }

    /** 0, 1, ..., 11 as F32 [3, 4]. */
    private static Tensor grid() { return Tensor.arange(0, 12, 1, DType.F32).reshape(3, 4); }

    @Test
    void fillThroughNarrowIsSeenByTheBase() {
        Tensor base = grid();
        Tensor v = base.narrow(1, 1, 2);
        assertTrue(v.sharesStorageWith(base));
        assertEquals(1, v.storageOffset());
        v.fill(-1);
        assertArrayEquals(new float[] {0, -1, -1, 3, 4, -1, -1, 7, 8, -1, -1, 11}, base.toFloatArray());
    }

    @Test
    void copyFromThroughSelectIsSeenByTheBase() {
        Tensor base = grid();
        base.select(0, 1).copyFrom(Tensor.of(new float[] {40, 50, 60, 70}, 4));
        base.select(1, -1).copyFrom(Tensor.scalar(9)); // broadcast into a column
        assertArrayEquals(new float[] {0, 1, 2, 9, 40, 50, 60, 9, 8, 9, 10, 9}, base.toFloatArray());
    }

    @Test
    void addInPlaceThroughTransposeIsSeenByTheBase() {
        Tensor base = grid();
        Tensor t = base.t(); // [4, 3]
        Tensor src = Tensor.arange(0, 12, 1, DType.F32).reshape(4, 3).mul(100);
        t.addInPlace(src); // base[i][j] += src[j][i]
        float[] want = new float[12];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) want[i * 4 + j] = i * 4 + j + 100 * (j * 3 + i);
        assertArrayEquals(want, base.toFloatArray());
    }

    @Test
    void writesThroughNestedViewsAndStepsReachTheBase() {
        Tensor base = grid();
        Tensor v = base.transpose(0, 1).narrow(0, 1, 3).slice(1, 0, 3, 2); // rows 1..3 of the transpose, columns 0 and 2
        assertArrayEquals(new int[] {3, 2}, v.shape());
        assertArrayEquals(new float[] {1, 9, 2, 10, 3, 11}, v.toFloatArray());
        v.affineInPlace(1, 1000);
        assertArrayEquals(new float[] {0, 1001, 1002, 1003, 4, 5, 6, 7, 8, 1009, 1010, 1011}, base.toFloatArray());
        base.fill(0);
        assertArrayEquals(new float[6], v.toFloatArray(), "a view sees writes to the base");
    }

    @Test
    void contiguousSharesWhenAlreadyContiguousAndCopiesOtherwise() {
        Tensor base = grid();
        Tensor c = base.contiguous();
        assertTrue(c.sharesStorageWith(base));
        Tensor tc = base.t().contiguous();
        assertFalse(tc.sharesStorageWith(base));
        assertTrue(tc.isContiguous());
        assertArrayEquals(new long[] {3, 1}, tc.strides());
        assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, tc.toFloatArray());
        tc.fill(5);
        assertEquals(0, base.get(0, 0), 0, "the copy is independent");
        Tensor row = base.narrow(0, 1, 1); // contiguous even with an offset
        assertTrue(row.isContiguous());
        assertTrue(row.contiguous().sharesStorageWith(base));
        Tensor col = base.narrow(1, 1, 1);
        assertFalse(col.isContiguous());
        assertFalse(col.contiguous().sharesStorageWith(base));
    }

    @Test
    void reshapeCopiesOnlyWhenItMust() {
        Tensor base = grid();
        Tensor r = base.reshape(2, 6);
        assertTrue(r.sharesStorageWith(base));
        assertTrue(base.reshape(-1).sharesStorageWith(base));
        assertTrue(base.unsqueeze(0).reshape(3, 2, 2).sharesStorageWith(base));
        Tensor tr = base.t().reshape(12);
        assertFalse(tr.sharesStorageWith(base), "a transposed tensor cannot be flattened without a copy");
        assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, tr.toFloatArray());
        // Splitting a dim is a view; merging dims that are not adjacent in memory is a copy.
        Tensor z = Tensor.zeros(2, 3, 4);
        Tensor p = z.permute(1, 0, 2); // [3, 2, 4], strides [4, 12, 1]
        assertTrue(p.reshape(3, 2, 2, 2).sharesStorageWith(z));
        assertFalse(p.reshape(3, 8).sharesStorageWith(z));
        Tensor p2 = Tensor.arange(0, 24, 1, DType.F32).reshape(2, 3, 4);
        assertTrue(p2.transpose(0, 1).reshape(3, 2, 2, 2).sharesStorageWith(p2), "splitting a dim is always a view");
        assertFalse(p2.transpose(0, 1).reshape(3, 8).sharesStorageWith(p2));
    }

    @Test
    void permuteAndTransposeStrides() {
        Tensor x = Tensor.zeros(2, 3, 4);
        assertArrayEquals(new long[] {12, 4, 1}, x.strides());
        Tensor p = x.permute(2, 0, 1);
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        assertArrayEquals(new long[] {1, 12, 4}, p.strides());
        assertFalse(p.isContiguous());
        Tensor t = x.transpose(0, 2);
        assertArrayEquals(new int[] {4, 3, 2}, t.shape());
        assertArrayEquals(new long[] {1, 4, 12}, t.strides());
        Tensor n = x.permute(-1, -3, -2);
        assertArrayEquals(new long[] {1, 12, 4}, n.strides());
        assertArrayEquals(new long[] {12, 4, 1}, p.permute(1, 2, 0).strides(), "permuting back restores the layout");
        Tensor v = Tensor.arange(0, 24, 1, DType.F32).reshape(2, 3, 4).permute(2, 0, 1);
        assertEquals(1 * 12 + 2 * 4 + 3, v.get(3, 1, 2), 0);
    }

    @Test
    void expandHasStrideZero() {
        Tensor col = Tensor.of(new float[] {1, 2, 3}, 3, 1);
        Tensor e = col.expand(3, 4);
        assertArrayEquals(new long[] {1, 0}, e.strides());
        assertTrue(e.sharesStorageWith(col));
        Tensor lead = col.expand(2, 3, -1);
        assertArrayEquals(new int[] {2, 3, 1}, lead.shape());
        assertArrayEquals(new long[] {0, 1, 1}, lead.strides());
        assertArrayEquals(new float[] {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, e.toFloatArray());
        col.select(0, 1).fill(7);
        assertEquals(7, e.get(1, 3), 0, "the expanded view reads the base");
        Tensor ec = e.contiguous();
        assertFalse(ec.sharesStorageWith(col));
        assertArrayEquals(new long[] {4, 1}, ec.strides());
        assertEquals(4 * (1 + 7 + 3), e.sum().item(), 0);
    }

    @Test
    void sliceWithStep() {
        Tensor x = Tensor.arange(0, 10, 1, DType.F32);
        Tensor s = x.slice(0, 1, 8, 3);
        assertArrayEquals(new float[] {1, 4, 7}, s.toFloatArray());
        assertArrayEquals(new long[] {3}, s.strides());
        assertEquals(1, s.storageOffset());
        assertTrue(s.sharesStorageWith(x));
        assertArrayEquals(new float[] {7, 8, 9}, x.slice(0, -3, 100, 1).toFloatArray(), "negative start and a large end clamp");
        assertArrayEquals(new float[] {0, 5}, x.slice(0, 0, 10, 5).toFloatArray());
        assertEquals(0, x.slice(0, 8, 2, 1).numel(), "an empty slice");
        Tensor g = grid();
        Tensor cols = g.slice(1, 1, 4, 2); // columns 1 and 3
        assertArrayEquals(new float[] {1, 3, 5, 7, 9, 11}, cols.toFloatArray());
        cols.fill(0);
        assertArrayEquals(new float[] {0, 0, 2, 0, 4, 0, 6, 0, 8, 0, 10, 0}, g.toFloatArray());
        Tensor s2 = s.slice(0, 1, 3, 1); // a slice of a strided slice
        assertArrayEquals(new float[] {4, 7}, s2.toFloatArray());
        assertEquals(4, s2.storageOffset());
    }

    @Test
    void splitAndChunkAreViews() {
        Tensor g = grid();
        var parts = g.split(3, 1);
        assertEquals(2, parts.size());
        assertArrayEquals(new int[] {3, 1}, parts.get(1).shape());
        parts.get(1).fill(-5);
        assertArrayEquals(new float[] {-5, -5, -5}, g.select(1, 3).toFloatArray());
        assertTrue(g.chunk(3, 0).get(2).sharesStorageWith(g));
    }
}
