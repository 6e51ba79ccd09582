package dev.tessera.runtime.cuda;

/**
 * The indices of a row select, grouped by row for its backward, as one int64 array that goes to the device in one
 * upload: {@code [idx (n) | order (n) | starts (unique + 1) | rows (unique)]}. {@code order} lists the positions i
 * sorted by idx[i], ties by i (a stable counting sort); the duplicates of {@code rows[j]} are
 * {@code order[starts[j] .. starts[j+1])}. The backward ({@link CudaIndexing#addRows(CudaDevice, DeviceOperand, int,
 * int, int, DeviceOperand, int, DeviceOperand)}) then writes each gradient row from one thread, summing in index order:
 * deterministic, with no atomics, and no second upload of the indices.
 */
public final class RowPlan {
    private RowPlan() {}

    /** The plan of {@code idx}, each in [0, size) (checked: an out-of-range index throws naming {@code op}). */
    public static long[] build(String op, long[] idx, int size) {
        int n = idx.length;
        int[] count = new int[size + 1];
        for (long i : idx) {
            if (i < 0 || i >= size) throw new IndexOutOfBoundsException(op + ": index " + i + " out of range for a dimension of size " + size);
            count[(int) i + 1]++;
        }
        int unique = 0;
        for (int r = 1; r <= size; r++) if (count[r] > 0) unique++;
        for (int r = 0; r < size; r++) count[r + 1] += count[r]; // count[r] = first slot of row r
        long[] plan = new long[2 * n + 2 * unique + 1];
        System.arraycopy(idx, 0, plan, 0, n);
        int[] next = java.util.Arrays.copyOf(count, size);
        for (int i = 0; i < n; i++) plan[n + next[(int) idx[i]]++] = i;
        int starts = 2 * n, rows = starts + unique + 1, j = 0;
        for (int r = 0; r < size; r++) {
            if (count[r + 1] == count[r]) continue;
            plan[starts + j] = count[r];
            plan[rows + j] = r;
            j++;
        }
        plan[starts + unique] = n;
        return plan;
    }

    /** How many distinct rows a plan of {@code n} indices names, from its length. */
    public static int unique(long planLength, int n) { return (int) ((planLength - 2L * n - 1) / 2); }
}
