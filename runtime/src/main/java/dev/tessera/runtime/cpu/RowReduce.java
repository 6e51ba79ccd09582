package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;

/**
 * Reduces each row of a contiguous [rows, n] operand. Rows are cut into blocks of fixed length whose
 * partial results are combined in order, so the result never depends on the number of threads.
 * Sums accumulate in double.
 */
public final class RowReduce {
    private RowReduce() {}

    /** The reductions. */
    public enum Kind { SUM, MAX, MIN, ARGMAX, ARGMIN, LOGSUMEXP }

    /** Elements per partial result; fixed, so that the partition does not depend on the machine. */
    static final int BLOCK = 1 << 14;

    public static void reduce(Kind kind, Operand x, int rows, int n, Operand out) {
        CpuInfo.logOnce();
        int blocks = Math.max(1, (n + BLOCK - 1) / BLOCK);
        long tasks = (long) rows * blocks;
        double[] partVal = new double[(int) tasks];
        long[] partIdx = new long[(int) tasks];
        double[] rowMax = kind == Kind.LOGSUMEXP ? new double[rows] : null;
        if (kind == Kind.LOGSUMEXP) {
            double[] pm = new double[(int) tasks];
            long[] unused = new long[(int) tasks];
            runBlocks(Kind.MAX, x, n, blocks, tasks, pm, unused, null);
            for (int r = 0; r < rows; r++) rowMax[r] = combine(Kind.MAX, pm, unused, r * blocks, blocks, null);
        }
        runBlocks(kind, x, n, blocks, tasks, partVal, partIdx, rowMax);
        MemorySegment o = out.seg();
        for (int r = 0; r < rows; r++) {
            long[] idx = new long[1];
            double v = combine(kind, partVal, partIdx, r * blocks, blocks, idx);
            long oi = out.offset() + r * (out.strides().length == 0 ? 0 : out.strides()[0]);
            switch (kind) {
                case ARGMAX, ARGMIN -> Elements.setLong(o, out.dtype(), oi, idx[0]);
                case LOGSUMEXP -> Elements.set(o, out.dtype(), oi, Double.isInfinite(rowMax[r]) ? rowMax[r] : rowMax[r] + Math.log(v));
                default -> {
                    if (out.dtype().isIntegral() && kind == Kind.SUM) Elements.setLong(o, out.dtype(), oi, Math.round(v));
                    else Elements.set(o, out.dtype(), oi, v);
                }
            }
        }
    }

    private static void runBlocks(Kind kind, Operand x, int n, int blocks, long tasks, double[] val, long[] idx, double[] rowMax) {
        CpuPool.parallelFor(tasks, Math.max(1, (1 << 15) / Math.min(n, BLOCK) / 1), (s, e) -> {
            for (long t = s; t < e; t++) {
                int r = (int) (t / blocks), b = (int) (t % blocks);
                long start = x.offset() + (long) r * n + (long) b * BLOCK;
                int len = Math.min(BLOCK, n - b * BLOCK);
                block(kind, x.seg(), x.dtype(), start, len, (int) t, val, idx, rowMax == null ? 0 : rowMax[r], (long) b * BLOCK);
            }
        });
    }

    private static void block(Kind kind, MemorySegment m, DType dt, long start, int len, int slot, double[] val, long[] idx,
                              double shift, long base) {
        if (dt == DType.F32 && CpuInfo.VECTOR && (kind == Kind.SUM || kind == Kind.MAX || kind == Kind.MIN)) {
            val[slot] = switch (kind) {
                case SUM -> VectorReduce.sum(m, start, len);
                case MAX -> VectorReduce.max(m, start, len);
                default -> VectorReduce.min(m, start, len);
            };
            return;
        }
        switch (kind) {
            case SUM -> {
                double s = 0;
                if (dt.isIntegral()) {
                    long ls = 0;
                    for (int i = 0; i < len; i++) ls += Elements.getLong(m, dt, start + i);
                    s = ls;
                } else {
                    for (int i = 0; i < len; i++) s += Elements.get(m, dt, start + i);
                }
                val[slot] = s;
            }
            case MAX, MIN, ARGMAX, ARGMIN -> {
                boolean max = kind == Kind.MAX || kind == Kind.ARGMAX;
                double best = Elements.get(m, dt, start);
                long bi = 0;
                for (int i = 1; i < len; i++) {
                    double v = Elements.get(m, dt, start + i);
                    if (Double.isNaN(best)) break;
                    if (Double.isNaN(v) || (max ? v > best : v < best)) { best = v; bi = i; }
                }
                val[slot] = best;
                idx[slot] = base + bi;
            }
            case LOGSUMEXP -> {
                double s = 0;
                if (Double.isInfinite(shift)) { val[slot] = 0; return; }
                for (int i = 0; i < len; i++) s += Math.exp(Elements.get(m, dt, start + i) - shift);
                val[slot] = s;
            }
        }
    }

    private static double combine(Kind kind, double[] val, long[] idx, int from, int count, long[] bestIdx) {
        double acc = val[from];
        long ai = idx[from];
        for (int i = from + 1; i < from + count; i++) {
            double v = val[i];
            switch (kind) {
                case SUM, LOGSUMEXP -> acc += v;
                case MAX, ARGMAX -> { if (!Double.isNaN(acc) && (Double.isNaN(v) || v > acc)) { acc = v; ai = idx[i]; } }
                case MIN, ARGMIN -> { if (!Double.isNaN(acc) && (Double.isNaN(v) || v < acc)) { acc = v; ai = idx[i]; } }
            }
        }
        if (bestIdx != null) bestIdx[0] = ai;
        return acc;
    }
}
