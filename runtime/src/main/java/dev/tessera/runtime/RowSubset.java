package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Some rows of a batch, ascending and distinct, such as the rows of a decoding batch whose inner network takes a
 * step. The rows are kept as runs of consecutive rows, so a tensor's rows along dimension 0 are read and written
 * with one view per run: no index tensor, hence no upload to a GPU, and nothing copied for a single run.
 */
public final class RowSubset {
    private final int batch;
    private final int[] rows;
    private final int[] runStart, runLength;

    private RowSubset(int batch, int[] rows) {
        this.batch = batch;
        this.rows = rows;
        List<int[]> runs = new ArrayList<>();
        for (int i = 0; i < rows.length; ) {
            int j = i + 1;
            while (j < rows.length && rows[j] == rows[j - 1] + 1) j++;
            runs.add(new int[] {rows[i], j - i});
            i = j;
        }
        runStart = runs.stream().mapToInt(r -> r[0]).toArray();
        runLength = runs.stream().mapToInt(r -> r[1]).toArray();
    }

    /**
     * The given rows of a batch of {@code batch} rows.
     *
     * @throws IllegalArgumentException unless the rows ascend strictly within [0, batch)
     */
    public static RowSubset of(int batch, int... rows) {
        if (batch < 1) throw new IllegalArgumentException("row subset: batch must be >= 1, got " + batch);
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] < 0 || rows[i] >= batch || (i > 0 && rows[i] <= rows[i - 1])) {
                throw new IllegalArgumentException("row subset: rows must ascend strictly within [0, " + batch + "), got " + Arrays.toString(rows));
            }
        }
        return new RowSubset(batch, rows.clone());
    }

    /** Every row of a batch of {@code batch} rows. */
    public static RowSubset all(int batch) {
        if (batch < 1) throw new IllegalArgumentException("row subset: batch must be >= 1, got " + batch);
        int[] rows = new int[batch];
        for (int i = 0; i < batch; i++) rows[i] = i;
        return new RowSubset(batch, rows);
    }

    /** Rows of the whole batch. */
    public int batch() { return batch; }

    /** Rows in the subset. */
    public int size() { return rows.length; }

    public boolean isEmpty() { return rows.length == 0; }

    /** True when the subset is the whole batch. */
    public boolean isAll() { return rows.length == batch; }

    /** The batch row of the subset's {@code i}-th row. */
    public int row(int i) { return rows[i]; }

    /** The rows, ascending. */
    public int[] rows() { return rows.clone(); }

    /** The rows of the subset whose positions {@code local} (ascending) name, as a subset of the same batch. */
    public RowSubset pick(int... local) {
        int[] picked = new int[local.length];
        for (int i = 0; i < local.length; i++) {
            if (local[i] < 0 || local[i] >= rows.length || (i > 0 && local[i] <= local[i - 1])) {
                throw new IllegalArgumentException("row subset: positions must ascend strictly within [0, " + rows.length + "), got "
                        + Arrays.toString(local));
            }
            picked[i] = rows[local[i]];
        }
        return new RowSubset(batch, picked);
    }

    /** Maximal runs of consecutive rows. */
    public int runs() { return runStart.length; }

    /** First batch row of run {@code r}. */
    public int runStart(int r) { return runStart[r]; }

    /** Rows in run {@code r}. */
    public int runLength(int r) { return runLength[r]; }

    /** This subset's rows of {@code t} along dimension 0, [size, ...]: a view when they form one run, else a copy. */
    public Tensor gather(Tensor t) {
        checkBatch("gather", t);
        if (runStart.length == 1) return t.narrow(0, runStart[0], runLength[0]);
        if (runStart.length == 0) return t.narrow(0, 0, 0);
        List<Tensor> parts = new ArrayList<>(runStart.length);
        for (int r = 0; r < runStart.length; r++) parts.add(t.narrow(0, runStart[r], runLength[r]));
        return Tensor.cat(parts, 0);
    }

    /** Writes {@code compact} [size, ...] into this subset's rows of {@code dst} [batch, ...], one copy per run. */
    public void scatter(Tensor dst, Tensor compact) {
        checkBatch("scatter", dst);
        if (compact.dim() != dst.dim() || compact.size(0) != rows.length
                || !Arrays.equals(Arrays.copyOfRange(compact.shape(), 1, compact.dim()), Arrays.copyOfRange(dst.shape(), 1, dst.dim()))) {
            throw new IllegalArgumentException("row subset scatter: " + rows.length + " rows of " + Arrays.toString(dst.shape()) + " cannot take "
                    + Arrays.toString(compact.shape()));
        }
        int at = 0;
        for (int r = 0; r < runStart.length; r++) {
            Tensor target = dst.narrow(0, runStart[r], runLength[r]), source = compact.narrow(0, at, runLength[r]);
            // A gather of one run is a view of dst itself: nothing to copy back.
            if (!(target.storage == source.storage && target.offset == source.offset && Arrays.equals(target.strides, source.strides))) target.copyFrom(source);
            at += runLength[r];
        }
    }

    private void checkBatch(String op, Tensor t) {
        if (t.dim() < 1 || t.size(0) != batch) {
            throw new IllegalArgumentException("row subset " + op + ": the tensor must have " + batch + " rows along dimension 0, got "
                    + Arrays.toString(t.shape()));
        }
    }

    @Override
    public String toString() { return "rows " + Arrays.toString(rows) + " of " + batch; }
}
