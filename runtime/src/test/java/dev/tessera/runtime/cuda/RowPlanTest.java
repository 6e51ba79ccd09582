package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The host half of the deterministic row scatter: the plan's layout, and the sums the kernel
 * {@code add_rows_sorted} makes from it (its loop, written out here over host arrays) against the CPU's add in index
 * order, bit for bit. The kernel itself runs in the gpu suite (CudaIndexingTest).
 */
class RowPlanTest {
    @Test
    void groupsThePositionsOfEachRowInIndexOrder() {
        long[] idx = {3, 1, 3, 0, 3, 1};
        long[] plan = RowPlan.build("embedding", idx, 5);
        // idx | order: row 0 at 3; row 1 at 1, 5; row 3 at 0, 2, 4 | starts | rows
        assertArrayEquals(new long[] {3, 1, 3, 0, 3, 1, 3, 1, 5, 0, 2, 4, 0, 1, 3, 6, 0, 1, 3}, plan);
        assertEquals(3, RowPlan.unique(plan.length, idx.length));
        assertArrayEquals(new long[] {0}, RowPlan.build("embedding", new long[0], 5));
        assertEquals(0, RowPlan.unique(1, 0));
    }

    @Test
    void refusesAnOutOfRangeIndexNamingTheOp() {
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> RowPlan.build("embedding", new long[] {2, 5}, 5));
        assertTrue(e.getMessage().contains("embedding") && e.getMessage().contains("index 5") && e.getMessage().contains("size 5"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> RowPlan.build("embedding", new long[] {-1}, 5));
    }

    /** The kernel's arithmetic: per (o, row, c), a float sum from zero over the row's positions in order, added once. */
    @Test
    void theKernelsSumsEqualTheCpusAddsInIndexOrder() {
        Generator gen = new Generator(9);
        int outer = 2, size = 7, inner = 5, n = 40;
        long[] idx = Tensor.randint(gen, 0, size, n).toLongArray();
        float[] g = Tensor.randn(gen, outer, n, inner).toFloatArray();
        float[] cpu = new float[outer * size * inner];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < n; i++) {
                for (int c = 0; c < inner; c++) cpu[(o * size + (int) idx[i]) * inner + c] += g[(o * n + i) * inner + c];
            }
        }
        long[] plan = RowPlan.build("add_rows", idx, size);
        int unique = RowPlan.unique(plan.length, n), starts = 2 * n, rows = starts + unique + 1;
        float[] gpu = new float[outer * size * inner];
        for (int t = 0; t < outer * unique * inner; t++) {
            int r = t / inner, c = t % inner, o = r / unique, j = r % unique;
            float sum = 0;
            for (long k = plan[starts + j]; k < plan[starts + j + 1]; k++) sum += g[(int) ((o * n + plan[n + (int) k]) * inner + c)];
            gpu[(int) ((o * size + plan[rows + j]) * inner + c)] += sum;
        }
        assertArrayEquals(cpu, gpu);
    }
}
