package dev.tessera.runtime.cpu;

/**
 * The causal depthwise 1-D convolution Mamba uses, channels last: x [B, L, C], weight [C, K], bias [C]:
 * y[b,t,c] = bias[c] + Σ_j w[c,j]·x[b, t−(K−1)+j, c], with zeros before the start (left padding K−1).
 * All operands contiguous except x and the backward's dx, whose channels must be contiguous but whose batch and
 * position strides may be any (a slice of a wider projection is read where it lies, and its gradient written where
 * the projection's gradient is assembled). The weight gradient is summed per channel by one thread,
 * in order.
 *
 * <p>Packed sequences: {@code starts}, when not null, gives for each position t of the (single) row the index
 * where t's document begins (see {@link #sequenceStarts}); a tap reading x[src] for output t is taken only
 * when src ≥ starts[t], so no document ever sees its predecessor — the zero padding moves to each start.
 */
public final class Conv1dKernel {
    private Conv1dKernel() {}

    /**
     * Per-position document starts for packed offsets {@code cuSeqlens} = {0, …, len} (already validated), or
     * null when {@code cuSeqlens} is null. One int per position keeps the inner loops to a single comparison.
     */
    public static int[] sequenceStarts(int[] cuSeqlens, int len) {
        if (cuSeqlens == null) return null;
        int[] starts = new int[len];
        for (int i = 0; i + 1 < cuSeqlens.length; i++) {
            for (int t = cuSeqlens[i]; t < cuSeqlens[i + 1]; t++) starts[t] = cuSeqlens[i];
        }
        return starts;
    }

    private static boolean allF32(Operand... ops) {
        for (Operand o : ops) if (o != null && o.dtype() != dev.tessera.runtime.DType.F32) return false;
        return true;
    }

    /** Forward; {@code starts} null or per-position document starts (then batch is 1). */
    public static void forward(Operand x, Operand w, Operand bias, Operand y, int batch, int len, int ch, int k, int[] starts) {
        if (CpuInfo.VECTOR && allF32(x, w, bias, y)) {
            Conv1dF32.forward(x, w, bias, y, batch, len, ch, k, starts);
            return;
        }
        CpuPool.parallelFor((long) batch * len, Math.max(1, 2048 / Math.max(1, ch)), (s, e) -> {
            for (long bt = s; bt < e; bt++) {
                int t = (int) (bt % len);
                long b = bt / len;
                int lo = starts == null ? 0 : starts[t]; // the first position this output may read
                for (int c = 0; c < ch; c++) {
                    double acc = bias == null ? 0 : Elements.get(bias.seg(), bias.dtype(), bias.offset() + c);
                    for (int j = 0; j < k; j++) {
                        int src = t - (k - 1) + j;
                        if (src < lo) continue;
                        acc += Elements.get(w.seg(), w.dtype(), w.offset() + (long) c * k + j)
                                * Elements.get(x.seg(), x.dtype(), x.offset() + b * x.strides()[0] + src * x.strides()[1] + c);
                    }
                    Elements.set(y.seg(), y.dtype(), y.offset() + bt * ch + c, acc);
                }
            }
        });
    }

    /** Backward; dw and db may be null; {@code starts} as in {@link #forward}. */
    public static void backward(Operand x, Operand w, Operand g, Operand dx, Operand dw, Operand db,
                                int batch, int len, int ch, int k, int[] starts) {
        if (CpuInfo.VECTOR && allF32(x, w, g, dx, dw, db)) {
            Conv1dF32.backward(x, w, g, dx, dw, db, batch, len, ch, k, starts);
            return;
        }
        CpuPool.parallelFor((long) batch * len, Math.max(1, 2048 / Math.max(1, ch)), (s, e) -> {
            for (long bt = s; bt < e; bt++) {
                int t = (int) (bt % len);
                long b = bt / len;
                for (int c = 0; c < ch; c++) {
                    double acc = 0;
                    for (int j = 0; j < k; j++) {
                        int dst = t + (k - 1) - j; // output position that read x[t] through tap j
                        if (dst >= len) continue;
                        // dst ≥ t, so it read x[t] only if its document had already begun at t
                        if (starts != null && starts[dst] > t) continue;
                        acc += Elements.get(w.seg(), w.dtype(), w.offset() + (long) c * k + j)
                                * Elements.get(g.seg(), g.dtype(), g.offset() + (b * len + dst) * ch + c);
                    }
                    Elements.set(dx.seg(), dx.dtype(), dx.offset() + b * dx.strides()[0] + t * dx.strides()[1] + c, acc);
                }
            }
        });
        if (dw == null && db == null) return;
        CpuPool.parallelFor(ch, 1, (s, e) -> {
            for (long c = s; c < e; c++) {
                double[] aw = new double[k];
                double ab = 0;
                for (long b = 0; b < batch; b++) {
                    for (int t = 0; t < len; t++) {
                        double gv = Elements.get(g.seg(), g.dtype(), g.offset() + (b * len + t) * ch + c);
                        ab += gv;
                        int lo = starts == null ? 0 : starts[t];
                        for (int j = 0; j < k; j++) {
                            int src = t - (k - 1) + j;
                            if (src >= lo) aw[j] += gv * Elements.get(x.seg(), x.dtype(), x.offset() + b * x.strides()[0] + src * x.strides()[1] + c);
                        }
                    }
                }
                if (dw != null) for (int j = 0; j < k; j++) Elements.set(dw.seg(), dw.dtype(), dw.offset() + c * k + j, aw[j]);
                if (db != null) Elements.set(db.seg(), db.dtype(), db.offset() + c, ab);
            }
        });
    }
}
