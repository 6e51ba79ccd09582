package dev.tessera.runtime.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The F32 SIMD path of {@link Conv1dKernel}: channels last means the C channels of a position are contiguous (x may
 * have any batch and position strides, as a slice of a wider projection has), so every
 * loop runs across channels with the taps' weights transposed to [K][C] once per call. The weight and bias gradients
 * are summed per part of the rows and the parts added in order ({@link #backward}): the bits depend on the shape, not
 * on the thread count or timing.
 */
final class Conv1dF32 {
    private Conv1dF32() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    /** The [ch, k] weights as k rows of ch (one bulk copy, then transposed on the heap: a decoding step calls this per layer). */
    private static float[][] transposedWeights(Operand w, int ch, int k) {
        float[] rows = new float[ch * k];
        MemorySegment.copy(w.seg(), Elements.F, w.offset() * 4, rows, 0, ch * k);
        float[][] wt = new float[k][ch];
        for (int c = 0; c < ch; c++) {
            for (int j = 0; j < k; j++) wt[j][c] = rows[c * k + j];
        }
        return wt;
    }

    static void forward(Operand x, Operand w, Operand bias, Operand y, int batch, int len, int ch, int k, int[] starts) {
        float[][] wt = transposedWeights(w, ch, k);
        float[] b0 = new float[ch];
        if (bias != null) for (int c = 0; c < ch; c++) b0[c] = bias.seg().getAtIndex(Elements.F, bias.offset() + c);
        MemorySegment xs = x.seg(), ys = y.seg();
        long xb = x.strides()[0], xt = x.strides()[1];
        int l = S.length(), vn = ch - ch % l;
        CpuPool.parallelFor((long) batch * len, Math.max(1, 2048 / Math.max(1, ch)), (s, e) -> {
            for (long bt = s; bt < e; bt++) {
                int t = (int) (bt % len);
                long b = bt / len;
                int lo = starts == null ? 0 : starts[t];
                long yo = (y.offset() + bt * ch) * 4;
                for (int c = 0; c < vn; c += l) {
                    FloatVector acc = FloatVector.fromArray(S, b0, c);
                    for (int j = 0; j < k; j++) {
                        int src = t - (k - 1) + j;
                        if (src < lo) continue;
                        FloatVector xv = FloatVector.fromMemorySegment(S, xs, (x.offset() + b * xb + src * xt + c) * 4, NO);
                        acc = FloatVector.fromArray(S, wt[j], c).fma(xv, acc);
                    }
                    acc.intoMemorySegment(ys, yo + c * 4L, NO);
                }
                for (int c = vn; c < ch; c++) {
                    float acc = b0[c];
                    for (int j = 0; j < k; j++) {
                        int src = t - (k - 1) + j;
                        if (src >= lo) acc += wt[j][c] * xs.getAtIndex(Elements.F, x.offset() + b * xb + src * xt + c);
                    }
                    ys.setAtIndex(Elements.F, y.offset() + bt * ch + c, acc);
                }
            }
        });
    }

    /**
     * Rows per part of the backward's single pass: parts of whole rows, at most {@link #MAX_PARTS} of them, so the
     * partial weight and bias sums (one array per part) stay small. Depends on the shape only, never on the thread
     * count, so the sums' rounding does not either.
     */
    private static int rowsPerPart(long rows) { return (int) Math.max(MIN_ROWS_PER_PART, (rows + MAX_PARTS - 1) / MAX_PARTS); }

    private static final int MIN_ROWS_PER_PART = 32, MAX_PARTS = 64;

    /**
     * dx, dw and db in one pass down the rows: each part of {@link #rowsPerPart} rows writes its rows of dx and sums its
     * rows' contributions to dw and db into an array of its own; the parts' sums are then added in part order. Two
     * passes (dx by rows, then dw and db by channel blocks down all the rows) read x and g twice, and inside a training
     * step, where neither is still in cache, that second read was half of the backward's time.
     */
    static void backward(Operand x, Operand w, Operand g, Operand dx, Operand dw, Operand db, int batch, int len, int ch, int k, int[] starts) {
        float[][] wt = transposedWeights(w, ch, k);
        long rows = (long) batch * len;
        int per = rowsPerPart(rows), parts = (int) ((rows + per - 1) / per);
        boolean sums = dw != null || db != null;
        float[][] partial = new float[sums ? parts : 0][];
        CpuPool.parallelFor(parts, 1, (s, e) -> {
            for (long part = s; part < e; part++) {
                float[] acc = sums ? new float[(k + 1) * ch] : null;
                rows(x, wt, g, dx, acc, part * per, Math.min(rows, (part + 1) * per), len, ch, k, starts);
                if (sums) partial[(int) part] = acc;
            }
        });
        if (!sums) return;
        float[] total = parts == 0 ? new float[(k + 1) * ch] : partial[0]; // no rows: zero gradients
        int l = S.length(), n = total.length, vn = n - n % l;
        for (int part = 1; part < parts; part++) {
            float[] add = partial[part];
            int i = 0;
            for (; i < vn; i += l) FloatVector.fromArray(S, total, i).add(FloatVector.fromArray(S, add, i)).intoArray(total, i);
            for (; i < n; i++) total[i] += add[i];
        }
        for (int c = 0; c < ch; c++) {
            if (dw != null) for (int j = 0; j < k; j++) dw.seg().setAtIndex(Elements.F, dw.offset() + (long) c * k + j, total[j * ch + c]);
            if (db != null) db.seg().setAtIndex(Elements.F, db.offset() + c, total[k * ch + c]);
        }
    }

    /**
     * Rows [from, to) of (b, t): dx[t] = Σ_j w_j·g[t + (k − 1) − j] over the outputs in the same sequence, and, when
     * {@code acc} is given, acc[j·ch + c] += g[t]·x[t − (k − 1) + j] for each tap j whose input lies in the sequence
     * and acc[k·ch + c] += g[t] (each sum over the rows in order).
     */
    private static void rows(Operand x, float[][] wt, Operand g, Operand dx, float[] acc, long from, long to, int len, int ch, int k, int[] starts) {
        MemorySegment xs = x.seg(), gs = g.seg(), dxs = dx.seg();
        long xb = x.strides()[0], xt = x.strides()[1], dxb = dx.strides()[0], dxt = dx.strides()[1];
        int l = S.length(), vn = ch - ch % l;
        for (long bt = from; bt < to; bt++) {
            int t = (int) (bt % len);
            long b = bt / len, grow = g.offset() + bt * ch, xrow = x.offset() + b * xb;
            long dxo = (dx.offset() + b * dxb + t * dxt) * 4;
            int first = Math.max(0, (starts == null ? 0 : starts[t]) - t + k - 1); // the first tap inside the sequence
            for (int c = 0; c < vn; c += l) {
                FloatVector sum = FloatVector.zero(S);
                for (int j = 0; j < k; j++) {
                    int dst = t + (k - 1) - j; // the output that read x[t] through tap j
                    if (dst >= len || (starts != null && starts[dst] > t)) continue;
                    FloatVector gv = FloatVector.fromMemorySegment(S, gs, (grow + (long) (dst - t) * ch + c) * 4, NO);
                    sum = FloatVector.fromArray(S, wt[j], c).fma(gv, sum);
                }
                sum.intoMemorySegment(dxs, dxo + c * 4L, NO);
                if (acc == null) continue;
                FloatVector gv = FloatVector.fromMemorySegment(S, gs, (grow + c) * 4, NO);
                gv.add(FloatVector.fromArray(S, acc, k * ch + c)).intoArray(acc, k * ch + c);
                for (int j = first; j < k; j++) {
                    FloatVector xv = FloatVector.fromMemorySegment(S, xs, (xrow + (long) (t - (k - 1) + j) * xt + c) * 4, NO);
                    gv.fma(xv, FloatVector.fromArray(S, acc, j * ch + c)).intoArray(acc, j * ch + c);
                }
            }
            for (int c = vn; c < ch; c++) {
                float sum = 0;
                for (int j = 0; j < k; j++) {
                    int dst = t + (k - 1) - j;
                    if (dst >= len || (starts != null && starts[dst] > t)) continue;
                    sum += wt[j][c] * gs.getAtIndex(Elements.F, grow + (long) (dst - t) * ch + c);
                }
                dxs.setAtIndex(Elements.F, dxo / 4 + c, sum);
                if (acc == null) continue;
                float gv = gs.getAtIndex(Elements.F, grow + c);
                acc[k * ch + c] += gv;
                for (int j = first; j < k; j++) acc[j * ch + c] += gv * xs.getAtIndex(Elements.F, xrow + (long) (t - (k - 1) + j) * xt + c);
            }
        }
    }
}
