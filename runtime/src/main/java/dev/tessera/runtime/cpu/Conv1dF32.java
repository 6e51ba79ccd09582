package dev.tessera.runtime.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The F32 SIMD path of {@link Conv1dKernel}: channels last means the C channels of a position are contiguous (x may
 * have any batch and position strides, as a slice of a wider projection has), so every
 * loop runs across channels with the taps' weights transposed to [K][C] once per call. The weight and bias gradients
 * are split by channel blocks, each summed over (b, t) in order by one thread, so they do not depend on timing.
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

    static void backward(Operand x, Operand w, Operand g, Operand dx, Operand dw, Operand db, int batch, int len, int ch, int k, int[] starts) {
        float[][] wt = transposedWeights(w, ch, k);
        MemorySegment xs = x.seg(), gs = g.seg(), dxs = dx.seg();
        long xb = x.strides()[0], xt = x.strides()[1];
        int l = S.length(), vn = ch - ch % l;
        CpuPool.parallelFor((long) batch * len, Math.max(1, 2048 / Math.max(1, ch)), (s, e) -> {
            for (long bt = s; bt < e; bt++) {
                int t = (int) (bt % len);
                long b = bt / len;
                long dxo = (dx.offset() + b * dx.strides()[0] + t * dx.strides()[1]) * 4;
                for (int c = 0; c < vn; c += l) {
                    FloatVector acc = FloatVector.zero(S);
                    for (int j = 0; j < k; j++) {
                        int dst = t + (k - 1) - j; // the output that read x[t] through tap j
                        if (dst >= len || (starts != null && starts[dst] > t)) continue;
                        FloatVector gv = FloatVector.fromMemorySegment(S, gs, (g.offset() + (b * len + dst) * ch + c) * 4, NO);
                        acc = FloatVector.fromArray(S, wt[j], c).fma(gv, acc);
                    }
                    acc.intoMemorySegment(dxs, dxo + c * 4L, NO);
                }
                for (int c = vn; c < ch; c++) {
                    float acc = 0;
                    for (int j = 0; j < k; j++) {
                        int dst = t + (k - 1) - j;
                        if (dst >= len || (starts != null && starts[dst] > t)) continue;
                        acc += wt[j][c] * gs.getAtIndex(Elements.F, g.offset() + (b * len + dst) * ch + c);
                    }
                    dxs.setAtIndex(Elements.F, dxo / 4 + c, acc);
                }
            }
        });
        if (dw == null && db == null) return;
        int blocks = (ch + l - 1) / l, fullBlocks = ch / l;
        CpuPool.parallelFor(blocks, 1, (s, e) -> {
            // The full blocks of this task in one pass down the rows (see sumsOfRows), then a ragged last block alone.
            int from = (int) s, to = (int) Math.min(e, fullBlocks);
            float[] acc = new float[Math.max(0, to - from) * (k + 1) * l];
            if (to > from) sumsOfRows(x, g, batch, len, ch, k, from, to, starts, acc);
            for (int blk = from; blk < to; blk++) write(dw, db, acc, (blk - from) * (k + 1) * l, blk * l, l, k, l);
            if (e > fullBlocks) {
                int c0 = fullBlocks * l, n = ch - c0;
                float[] aw = new float[(k + 1) * l];
                for (long b = 0; b < batch; b++) {
                    for (int t = 0; t < len; t++) {
                        long go = g.offset() + (b * len + t) * ch + c0;
                        int lo = starts == null ? 0 : starts[t];
                        for (int c = 0; c < n; c++) {
                            float gv = gs.getAtIndex(Elements.F, go + c);
                            aw[k * l + c] += gv;
                            for (int j = 0; j < k; j++) {
                                int src = t - (k - 1) + j;
                                if (src >= lo) aw[j * l + c] += gv * xs.getAtIndex(Elements.F, x.offset() + b * xb + src * xt + c0 + c);
                            }
                        }
                    }
                }
                write(dw, db, aw, 0, c0, n, k, l);
            }
        });
    }

    /** dw[c0 + c, j] = acc[at + j·l + c] and db[c0 + c] = acc[at + k·l + c] for c &lt; n (either may be null). */
    private static void write(Operand dw, Operand db, float[] acc, int at, int c0, int n, int k, int l) {
        for (int c = 0; c < n; c++) {
            if (dw != null) for (int j = 0; j < k; j++) dw.seg().setAtIndex(Elements.F, dw.offset() + (long) (c0 + c) * k + j, acc[at + j * l + c]);
            if (db != null) db.seg().setAtIndex(Elements.F, db.offset() + c0 + c, acc[at + k * l + c]);
        }
    }

    /**
     * The weight and bias gradients of the full channel blocks [from, to), summed over (b, t) in order: acc holds, per
     * block, the k taps' sums and then the bias sum, a vector each: acc[i·l ..] += g·x[t − (k − 1) + j] for each tap j
     * whose input lies in the sequence, and the bias' += g. Every row is read once, for all the task's blocks together
     * (a row's channels are contiguous): one block at a time down all the rows read each row's cache lines again per
     * block with a stride of a row, which made this loop the slowest part of a training step's convolution. Each sum
     * still runs over (b, t) in order, so the bits do not depend on how the blocks are split between threads.
     */
    private static void sumsOfRows(Operand x, Operand g, int batch, int len, int ch, int k, int from, int to, int[] starts, float[] acc) {
        int l = S.length(), per = (k + 1) * l;
        MemorySegment xs = x.seg(), gs = g.seg();
        long xb = x.strides()[0], xt = x.strides()[1];
        for (long b = 0; b < batch; b++) {
            long xrow = x.offset() + b * xb;
            for (int t = 0; t < len; t++) {
                int lo = starts == null ? 0 : starts[t];
                long grow = g.offset() + (b * len + t) * ch;
                for (int blk = from, a = 0; blk < to; blk++, a += per) {
                    int c0 = blk * l;
                    FloatVector gv = FloatVector.fromMemorySegment(S, gs, (grow + c0) * 4, NO);
                    gv.add(FloatVector.fromArray(S, acc, a + k * l)).intoArray(acc, a + k * l);
                    for (int j = Math.max(0, lo - t + k - 1); j < k; j++) {
                        FloatVector xv = FloatVector.fromMemorySegment(S, xs, (xrow + (long) (t - (k - 1) + j) * xt + c0) * 4, NO);
                        gv.fma(xv, FloatVector.fromArray(S, acc, a + j * l)).intoArray(acc, a + j * l);
                    }
                }
            }
        }
    }
}
