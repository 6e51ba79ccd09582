package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;

/**
 * Fused LayerNorm and RMSNorm over the rows of contiguous [rows, d] operands, forward and backward,
 * accumulating in double. The weight and bias gradients are summed over fixed blocks of rows combined in
 * order, so they do not depend on the thread count.
 */
public final class NormKernels {
    private NormKernels() {}

    private static final int ROW_BLOCK = 64;

    /**
     * y = (x − mean)·rstd·w + b (LayerNorm) or x·rstd·w (RMSNorm, {@code rms}); writes mean (LayerNorm only)
     * and rstd per row. {@code w} and {@code b} may be null.
     */
    public static void forward(Operand x, Operand w, Operand b, Operand y, double[] mean, double[] rstd, int rows, int d,
                               double eps, boolean rms) {
        CpuInfo.logOnce();
        DType dt = x.dtype();
        MemorySegment xs = x.seg(), ys = y.seg();
        boolean simd = CpuInfo.VECTOR && allF32(x, w, b, y);
        CpuPool.parallelFor(rows, Math.max(1, 4096 / Math.max(1, d)), (s, e) -> {
            double[] stats = new double[2];
            for (long r = s; r < e; r++) {
                long xo = x.offset() + r * d, yo = y.offset() + r * d;
                if (simd) {
                    VectorNorm.forwardRow(xs, xo, seg(w), off(w), seg(b), off(b), ys, yo, d, eps, rms, stats);
                    if (!rms) mean[(int) r] = stats[0];
                    rstd[(int) r] = stats[1];
                    continue;
                }
                double mu = 0;
                if (!rms) {
                    for (int i = 0; i < d; i++) mu += Elements.get(xs, dt, xo + i);
                    mu /= d;
                }
                double var = 0;
                for (int i = 0; i < d; i++) {
                    double c = Elements.get(xs, dt, xo + i) - mu;
                    var += c * c;
                }
                double rs = 1 / Math.sqrt(var / d + eps);
                if (!rms) mean[(int) r] = mu;
                rstd[(int) r] = rs;
                for (int i = 0; i < d; i++) {
                    double v = (Elements.get(xs, dt, xo + i) - mu) * rs;
                    if (w != null) v *= Elements.get(w.seg(), w.dtype(), w.offset() + i);
                    if (b != null) v += Elements.get(b.seg(), b.dtype(), b.offset() + i);
                    Elements.set(ys, y.dtype(), yo + i, v);
                }
            }
        });
    }

    private static boolean allF32(Operand... ops) {
        for (Operand o : ops) if (o != null && o.dtype() != DType.F32) return false;
        return true;
    }

    private static MemorySegment seg(Operand o) { return o == null ? null : o.seg(); }

    private static long off(Operand o) { return o == null ? 0 : o.offset(); }

    /** dx, and (when not null) dw and db, from dy and the saved statistics. */
    public static void backward(Operand x, Operand w, Operand dy, double[] mean, double[] rstd, int rows, int d, boolean rms,
                                Operand dx, Operand dw, Operand db) {
        DType dt = x.dtype();
        int blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
        double[][] pw = new double[blocks][], pb = new double[blocks][];
        boolean simd = CpuInfo.VECTOR && allF32(x, w, dy, dx);
        CpuPool.parallelFor(blocks, 1, (s, e) -> {
            if (simd) {
                for (long blk = s; blk < e; blk++) {
                    float[] aw = dw == null ? null : new float[d], ab = db == null ? null : new float[d];
                    int r0 = (int) blk * ROW_BLOCK, r1 = Math.min(rows, r0 + ROW_BLOCK);
                    for (int r = r0; r < r1; r++) {
                        VectorNorm.backwardRow(x.seg(), x.offset() + (long) r * d, seg(w), off(w), dy.seg(), dy.offset() + (long) r * d,
                                dx.seg(), dx.offset() + (long) r * d, d, rms ? 0 : mean[r], rstd[r], rms, aw, ab);
                    }
                    pw[(int) blk] = toDouble(aw);
                    pb[(int) blk] = toDouble(ab);
                }
                return;
            }
            double[] wv = new double[d], gw = new double[d];
            for (int i = 0; i < d; i++) wv[i] = w == null ? 1 : Elements.get(w.seg(), w.dtype(), w.offset() + i);
            for (long blk = s; blk < e; blk++) {
                double[] aw = dw == null ? null : new double[d], ab = db == null ? null : new double[d];
                int r0 = (int) blk * ROW_BLOCK, r1 = Math.min(rows, r0 + ROW_BLOCK);
                for (int r = r0; r < r1; r++) {
                    long xo = x.offset() + (long) r * d, go = dy.offset() + (long) r * d, dxo = dx.offset() + (long) r * d;
                    double mu = rms ? 0 : mean[r], rs = rstd[r];
                    double meanG = 0, meanGX = 0;
                    for (int i = 0; i < d; i++) {
                        double g = Elements.get(dy.seg(), dy.dtype(), go + i);
                        double xh = (Elements.get(x.seg(), dt, xo + i) - mu) * rs;
                        gw[i] = g * wv[i];
                        meanG += gw[i];
                        meanGX += gw[i] * xh;
                        if (aw != null) aw[i] += g * xh;
                        if (ab != null) ab[i] += g;
                    }
                    meanG /= d;
                    meanGX /= d;
                    for (int i = 0; i < d; i++) {
                        double xh = (Elements.get(x.seg(), dt, xo + i) - mu) * rs;
                        double v = rs * (gw[i] - (rms ? 0 : meanG) - xh * meanGX);
                        Elements.set(dx.seg(), dx.dtype(), dxo + i, v);
                    }
                }
                pw[(int) blk] = aw;
                pb[(int) blk] = ab;
            }
        });
        if (dw != null) reduceBlocks(pw, d, dw);
        if (db != null) reduceBlocks(pb, d, db);
    }

    private static double[] toDouble(float[] a) {
        if (a == null) return null;
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    private static void reduceBlocks(double[][] parts, int d, Operand out) {
        double[] acc = new double[d];
        for (double[] p : parts) for (int i = 0; i < d; i++) acc[i] += p[i];
        for (int i = 0; i < d; i++) Elements.set(out.seg(), out.dtype(), out.offset() + i, acc[i]);
    }
}
