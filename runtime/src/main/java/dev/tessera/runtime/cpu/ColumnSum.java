package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;

/**
 * out[c] = Σ_r x[r, c] over a contiguous [rows, cols] F32 or F64 block: the sum over leading dims (bias gradients)
 * without the transposing copy a row reduction would need. Rows are added in order into per-column accumulators, so
 * the result does not depend on threads or JIT tier (lane-wise adds only, no cross-lane reductions).
 */
public final class ColumnSum {
    private ColumnSum() {}

    /** Columns per task: enough work to amortise the hand-off, few enough to split wide tensors across threads. */
    private static final int GRAIN = 256;

    public static void sum(Operand x, int rows, int cols, Operand out) {
        if (x.dtype() == DType.F32 && CpuInfo.VECTOR) {
            CpuPool.parallelFor(cols, GRAIN, (s, e) -> VectorColumnSum.sumF32(x.seg(), x.offset(), rows, cols, (int) s, (int) e,
                    out.seg(), out.offset()));
            return;
        }
        CpuPool.parallelFor(cols, GRAIN, (s, e) -> {
            double[] acc = new double[(int) (e - s)];
            for (long r = 0; r < rows; r++) {
                long base = x.offset() + r * cols;
                for (int c = (int) s; c < e; c++) acc[c - (int) s] += Elements.get(x.seg(), x.dtype(), base + c);
            }
            for (int c = (int) s; c < e; c++) Elements.set(out.seg(), out.dtype(), out.offset() + c, acc[c - (int) s]);
        });
    }
}
