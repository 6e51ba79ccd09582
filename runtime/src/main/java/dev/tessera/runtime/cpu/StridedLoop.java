package dev.tessera.runtime.cpu;

/**
 * Walks several operands of one shape row by row. Dimensions that are laid out contiguously in every
 * operand are merged first, so a contiguous tensor of any rank becomes a single row that is split across
 * threads; otherwise whole rows are.
 */
final class StridedLoop {
    private StridedLoop() {}

    /** Processes one row: {@code n} elements starting at {@code off[k]} with stride {@code step[k]} in operand k. */
    @FunctionalInterface
    interface Row {
        void run(long[] off, long[] step, int n);
    }

    /** Minimum elements per thread below which a loop stays on one thread. */
    static final long GRAIN = 1 << 15;

    static void run(int[] shape, Operand[] ops, Row row) {
        int k = ops.length;
        long numel = 1;
        for (int d : shape) numel *= d;
        if (numel == 0) return;
        // Coalesce: drop size-1 dims, merge a dim into the next when every operand is contiguous across them.
        int rank = 0;
        int[] dims = new int[shape.length];
        long[][] st = new long[k][shape.length];
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (rank > 0) {
                boolean merge = true;
                for (int j = 0; j < k; j++) {
                    if (st[j][rank - 1] != ops[j].strides()[d] * shape[d]) { merge = false; break; }
                }
                if (merge) {
                    dims[rank - 1] *= shape[d];
                    for (int j = 0; j < k; j++) st[j][rank - 1] = ops[j].strides()[d];
                    continue;
                }
            }
            dims[rank] = shape[d];
            for (int j = 0; j < k; j++) st[j][rank] = ops[j].strides()[d];
            rank++;
        }
        if (rank == 0) { // a single element
            long[] off = new long[k];
            for (int j = 0; j < k; j++) off[j] = ops[j].offset();
            row.run(off, new long[k], 1);
            return;
        }
        final int r = rank;
        final int inner = dims[r - 1];
        long[] step = new long[k];
        for (int j = 0; j < k; j++) step[j] = st[j][r - 1];
        if (r == 1) {
            CpuPool.parallelFor(inner, GRAIN, (s, e) -> {
                long[] off = new long[k];
                for (int j = 0; j < k; j++) off[j] = ops[j].offset() + s * step[j];
                row.run(off, step, (int) (e - s));
            });
            return;
        }
        long rows = numel / inner;
        CpuPool.parallelFor(rows, Math.max(1, GRAIN / inner), (s, e) -> {
            int[] idx = new int[r - 1];
            long rem = s;
            for (int d = r - 2; d >= 0; d--) { idx[d] = (int) (rem % dims[d]); rem /= dims[d]; }
            long[] base = new long[k];
            for (int j = 0; j < k; j++) {
                long o = ops[j].offset();
                for (int d = 0; d < r - 1; d++) o += idx[d] * st[j][d];
                base[j] = o;
            }
            long[] off = new long[k];
            for (long q = s; q < e; q++) {
                System.arraycopy(base, 0, off, 0, k);
                row.run(off, step, inner);
                for (int d = r - 2; d >= 0; d--) { // advance the multi-index
                    idx[d]++;
                    for (int j = 0; j < k; j++) base[j] += st[j][d];
                    if (idx[d] < dims[d]) break;
                    for (int j = 0; j < k; j++) base[j] -= st[j][d] * dims[d];
                    idx[d] = 0;
                }
            }
        });
    }
}
