package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Rows of a batch as runs: gather and scatter along dimension 0, picking, refusals. */
class RowSubsetTest {
    @Test
    void runsGatherAndScatter() {
        RowSubset s = RowSubset.of(7, 0, 1, 2, 4, 6);
        assertEquals(3, s.runs());
        assertArrayEquals(new int[] {0, 4, 6}, new int[] {s.runStart(0), s.runStart(1), s.runStart(2)});
        assertArrayEquals(new int[] {3, 1, 1}, new int[] {s.runLength(0), s.runLength(1), s.runLength(2)});
        try (Scope sc = Scope.open()) {
            Tensor t = Tensor.arange(7 * 3).to(DType.F32).reshape(7, 3);
            Tensor g = s.gather(t);
            assertArrayEquals(new int[] {5, 3}, g.shape());
            assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 18, 19, 20}, g.toDoubleArray());
            s.scatter(t, g.mul(-1));
            assertArrayEquals(new double[] {0, -1, -2, -3, -4, -5, -6, -7, -8, 9, 10, 11, -12, -13, -14, 15, 16, 17, -18, -19, -20},
                    t.toDoubleArray(), "only the subset's rows change");
        }
    }

    @Test
    void oneRunIsAViewAndWritesThrough() {
        try (Scope sc = Scope.open()) {
            Tensor t = Tensor.zeros(5, 2);
            RowSubset s = RowSubset.of(5, 1, 2, 3);
            Tensor g = s.gather(t);
            g.copyFrom(Tensor.ones(3, 2));
            s.scatter(t, g); // a view of t: nothing to copy back
            assertArrayEquals(new double[] {0, 0, 1, 1, 1, 1, 1, 1, 0, 0}, t.toDoubleArray());
            assertTrue(RowSubset.all(5).isAll());
        }
    }

    @Test
    void pickMapsPositionsToRows() {
        RowSubset s = RowSubset.of(10, 2, 3, 7, 9);
        assertArrayEquals(new int[] {3, 9}, s.pick(1, 3).rows());
        assertEquals(10, s.pick(0).batch());
        assertThrows(IllegalArgumentException.class, () -> s.pick(4));
        assertThrows(IllegalArgumentException.class, () -> s.pick(1, 1));
    }

    @Test
    void badRowsAndShapesAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RowSubset.of(4, 1, 1));
        assertTrue(e.getMessage().contains("[1, 1]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RowSubset.of(4, 4));
        assertThrows(IllegalArgumentException.class, () -> RowSubset.of(4, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> RowSubset.all(0));
        try (Scope sc = Scope.open()) {
            RowSubset s = RowSubset.of(4, 0, 3);
            e = assertThrows(IllegalArgumentException.class, () -> s.gather(Tensor.zeros(3, 2)));
            assertTrue(e.getMessage().contains("4 rows") && e.getMessage().contains("[3, 2]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.scatter(Tensor.zeros(4, 2), Tensor.zeros(2, 3)));
            assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
        }
    }
}
