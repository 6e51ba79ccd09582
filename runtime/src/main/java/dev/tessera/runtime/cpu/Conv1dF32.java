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
        int blocks = (ch + l - 1) / l;
        CpuPool.parallelFor(blocks, 1, (s, e) -> {
            float[] aw = new float[k * l], ab = new float[l];
            for (long blk = s; blk < e; blk++) {
                int c0 = (int) blk * l, n = Math.min(l, ch - c0);
                java.util.Arrays.fill(aw, 0);
                java.util.Arrays.fill(ab, 0);
                boolean full = n == l;
                if (full && k == 4) { // Mamba's width: the five sums stay in registers (same order, same bits)
                    sumsOfFour(x, g, batch, len, ch, c0, starts, aw, ab);
                } else for (long b = 0; b < batch; b++) {
                    for (int t = 0; t < len; t++) {
                        long go = g.offset() + (b * len + t) * ch + c0;
                        int lo = starts == null ? 0 : starts[t];
                        if (full) {
                            FloatVector gv = FloatVector.fromMemorySegment(S, gs, go * 4, NO);
                            gv.add(FloatVector.fromArray(S, ab, 0)).intoArray(ab, 0);
                            for (int j = 0; j < k; j++) {
                                int src = t - (k - 1) + j;
                                if (src < lo) continue;
                                FloatVector xv = FloatVector.fromMemorySegment(S, xs, (x.offset() + b * xb + src * xt + c0) * 4, NO);
                                gv.fma(xv, FloatVector.fromArray(S, aw, j * l)).intoArray(aw, j * l);
                            }
                        } else {
                            for (int c = 0; c < n; c++) {
                                float gv = gs.getAtIndex(Elements.F, go + c);
                                ab[c] += gv;
                                for (int j = 0; j < k; j++) {
                                    int src = t - (k - 1) + j;
                                    if (src >= lo) aw[j * l + c] += gv * xs.getAtIndex(Elements.F, x.offset() + b * xb + src * xt + c0 + c);
                                }
                            }
                        }
                    }
                }
                for (int c = 0; c < n; c++) {
                    if (dw != null) for (int j = 0; j < k; j++) dw.seg().setAtIndex(Elements.F, dw.offset() + (long) (c0 + c) * k + j, aw[j * l + c]);
                    if (db != null) db.seg().setAtIndex(Elements.F, db.offset() + c0 + c, ab[c]);
                }
            }
        });
    }

    /**
     * The weight and bias gradients of one full block of channels from c0 for a width-4 kernel, summed over (b, t) in
     * the order of the general loop: aw[j·L ..] += g·x[t − 3 + j] for each tap j whose input lies in the sequence,
     * ab += g. The general loop reads and writes the five sums in memory at every position.
     */
    private static void sumsOfFour(Operand x, Operand g, int batch, int len, int ch, int c0, int[] starts, float[] aw, float[] ab) {
        int l = S.length();
        MemorySegment xs = x.seg(), gs = g.seg();
        long xb = x.strides()[0], xt = x.strides()[1];
        FloatVector w0 = FloatVector.zero(S), w1 = w0, w2 = w0, w3 = w0, sb = w0;
        for (long b = 0; b < batch; b++) {
            long xrow = x.offset() + b * xb + c0;
            for (int t = 0; t < len; t++) {
                int lo = starts == null ? 0 : starts[t];
                FloatVector gv = FloatVector.fromMemorySegment(S, gs, (g.offset() + (b * len + t) * ch + c0) * 4, NO);
                sb = gv.add(sb);
                if (t - 3 >= lo) w0 = gv.fma(FloatVector.fromMemorySegment(S, xs, (xrow + (t - 3) * xt) * 4, NO), w0);
                if (t - 2 >= lo) w1 = gv.fma(FloatVector.fromMemorySegment(S, xs, (xrow + (t - 2) * xt) * 4, NO), w1);
                if (t - 1 >= lo) w2 = gv.fma(FloatVector.fromMemorySegment(S, xs, (xrow + (t - 1) * xt) * 4, NO), w2);
                w3 = gv.fma(FloatVector.fromMemorySegment(S, xs, (xrow + t * xt) * 4, NO), w3);
            }
        }
        w0.intoArray(aw, 0);
        w1.intoArray(aw, l);
        w2.intoArray(aw, 2 * l);
        w3.intoArray(aw, 3 * l);
        sb.intoArray(ab, 0);
    }
}
