package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.TileKernels.BC;
import static dev.tessera.kernels.attention.TileKernels.LANES;
import static dev.tessera.kernels.attention.TileKernels.SPECIES;

import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * The F32 inputs of one attention call laid out for tiling, and the logits of a tile.
 *
 * <p>Each (batch, head) slice of q, k, v is one heap {@code float[]} (row-major [L,P]); keys are also kept transposed
 * ([P, Lk + BC], zero padded) so that a tile's dot products put the key index in the vector lanes. Copying costs
 * O(L·P), nothing next to the O(Lq·Lk·P) of the products. Per batch row it also holds the visible key range
 * [lo, hi) of every query (a query that does not exist gets an empty range) and the clamped log p.
 */
final class AttentionTiles {
    final Geometry g;
    final int P, ldk;
    final float[][] q, k, kT, v;
    /** Key bias rows, zero padded to Lk + BC: index b (shared) or b·Hq + h. Null without bias. */
    final float[][] bias;
    /** max(log p, log 1e−20), −∞ kept; the key rows padded to Lk + BC. Null outside existence mode. */
    final float[][] lpq, lpk;
    final int[][] lo, hi;
    /**
     * Starts of the query tiles (≤ {@link TileKernels#BR} rows) and of the key tiles (≤ {@link TileKernels#BC} keys),
     * each ending where the next starts; with packed documents no tile spans two ({@link Geometry#tileStarts}).
     */
    final int[] qTiles, kTiles;

    AttentionTiles(Geometry g, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logpQ, Tensor logpK) {
        this.g = g;
        P = g.headDim;
        ldk = g.kLen + BC;
        this.q = read(q, g.batch * g.qHeads, g.qLen * P, 0);
        this.k = read(k, g.batch * g.kvHeads, g.kLen * P, 0);
        this.v = read(v, g.batch * g.kvHeads, g.kLen * P, 0);
        kT = transpose(this.k, g.kLen, P, ldk);
        this.bias = bias == null ? null : read(bias, (int) (bias.numel() / g.kLen), g.kLen, BC);
        lpq = logpQ == null ? null : clamped(read(logpQ, g.batch, g.qLen, 0));
        lpk = logpK == null ? null : clamped(read(logpK, g.batch, g.kLen, BC));
        qTiles = g.tileStarts(g.qLen, TileKernels.BR);
        kTiles = g.tileStarts(g.kLen, BC);
        lo = new int[g.batch][g.qLen];
        hi = new int[g.batch][g.qLen];
        for (int b = 0; b < g.batch; b++) {
            for (int i = 0; i < g.qLen; i++) {
                lo[b][i] = g.lo(b, i);
                boolean gone = lpq != null && lpq[b][i] == Float.NEGATIVE_INFINITY;
                hi[b][i] = gone ? lo[b][i] : g.hi(b, i);
            }
        }
    }

    /**
     * Slices per task of the copies in and out below: they ran on the calling thread alone, an eighth of the attention's
     * time in a training step of hnet-tiny (small heads, so the tiles' arithmetic is short next to them).
     */
    private static long slicesPerTask(long elementsPerSlice) { return Math.max(1, (1 << 14) / Math.max(1, elementsPerSlice)); }

    /** A contiguous F32 tensor as {@code n} arrays of {@code len} elements, each padded with {@code pad} zeros. */
    static float[][] read(Tensor t, int n, int len, int pad) {
        MemorySegment seg = KernelSupport.segment(t);
        long off = KernelSupport.offset(t);
        float[][] out = new float[n][];
        KernelSupport.parallelFor(n, slicesPerTask(len), (s, e) -> {
            for (int i = (int) s; i < e; i++) {
                out[i] = new float[len + pad];
                MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT, (off + (long) i * len) * 4, out[i], 0, len);
            }
        });
        return out;
    }

    /** Writes {@code n} arrays of {@code len} elements into a fresh contiguous F32 tensor. */
    static void write(float[][] src, Tensor t, int len) {
        MemorySegment seg = KernelSupport.segment(t);
        long off = KernelSupport.offset(t);
        KernelSupport.parallelFor(src.length, slicesPerTask(len), (s, e) -> {
            for (int i = (int) s; i < e; i++) MemorySegment.copy(src[i], 0, seg, ValueLayout.JAVA_FLOAT, (off + (long) i * len) * 4, len);
        });
    }

    /** [L,P] row-major slices to [P, ld] with the position in the fast index. */
    static float[][] transpose(float[][] x, int len, int P, int ld) {
        float[][] t = new float[x.length][];
        KernelSupport.parallelFor(x.length, slicesPerTask((long) len * P), (s0, e0) -> {
            for (int s = (int) s0; s < e0; s++) {
                float[] a = x[s], b = new float[P * ld];
                for (int j = 0; j < len; j++) for (int p = 0; p < P; p++) b[p * ld + j] = a[j * P + p];
                t[s] = b;
            }
        });
        return t;
    }

    private static float[][] clamped(float[][] lp) {
        float min = (float) ProbabilisticAttention.LOG_P_MIN;
        for (float[] row : lp) for (int i = 0; i < row.length; i++) if (row[i] != Float.NEGATIVE_INFINITY) row[i] = Math.max(row[i], min);
        return lp;
    }

    int qSlice(int b, int h) { return b * g.qHeads + h; }

    int kvSlice(int b, int h) { return b * g.kvHeads + h / g.group(); }

    /** True when some row of the query tile [i0, i0+rows) sees a key in [j0, j1). */
    boolean touches(int b, int i0, int rows, int j0, int j1) {
        for (int r = 0; r < rows; r++) if (lo[b][i0 + r] < j1 && hi[b][i0 + r] > j0 && lo[b][i0 + r] < hi[b][i0 + r]) return true;
        return false;
    }

    /** {lo, hi} of the union of the visible ranges of the query tile rows; lo ≥ hi when none sees anything. */
    int[] union(int b, int i0, int rows) {
        int ulo = Integer.MAX_VALUE, uhi = Integer.MIN_VALUE;
        for (int r = 0; r < rows; r++) {
            if (lo[b][i0 + r] >= hi[b][i0 + r]) continue;
            ulo = Math.min(ulo, lo[b][i0 + r]);
            uhi = Math.max(uhi, hi[b][i0 + r]);
        }
        return new int[] {ulo, uhi};
    }

    /**
     * The logits tile of queries [i0, i0+rows) of head h against keys [j0, j0+BC):
     * {@code s = scale·q·kᵀ + bias + E}, −∞ where masked or past Lk ({@link FlashAttentionReference} has the math).
     */
    void logits(float[] s, int b, int h, int i0, int rows, int j0) {
        TileKernels.dots(q[qSlice(b, h)], i0 * P, rows, P, kT[kvSlice(b, h)], ldk, j0, s);
        float sc = (float) g.scale;
        float[] br = bias == null ? null : bias[g.biasHeads == 1 ? b : qSlice(b, h)];
        FloatVector scv = FloatVector.broadcast(SPECIES, sc);
        for (int r = 0; r < rows; r++) {
            int o = r * BC, i = i0 + r;
            if (br == null) {
                for (int c = 0; c < BC; c += LANES) FloatVector.fromArray(SPECIES, s, o + c).mul(scv).intoArray(s, o + c);
            } else {
                for (int c = 0; c < BC; c += LANES) {
                    FloatVector.fromArray(SPECIES, s, o + c).fma(scv, FloatVector.fromArray(SPECIES, br, j0 + c)).intoArray(s, o + c);
                }
            }
            if (lpk != null) existence(s, o, b, i, j0);
            int a = Math.clamp(lo[b][i] - j0, 0, BC), e = Math.clamp(hi[b][i] - j0, 0, BC);
            if (e <= a) {
                Arrays.fill(s, o, o + BC, Float.NEGATIVE_INFINITY);
            } else {
                Arrays.fill(s, o, o + a, Float.NEGATIVE_INFINITY);
                Arrays.fill(s, o + e, o + BC, Float.NEGATIVE_INFINITY);
            }
        }
    }

    /** Adds Zonkey's existence bias E_ij (arXiv 2601.21768) to one tile row: log pK_j − log pQ_i past the query, −∞ for absent keys. */
    private void existence(float[] s, int o, int b, int i, int j0) {
        float[] kr = lpk[b];
        float lq = lpq[b][i];
        int n = Math.min(BC, g.kLen - j0);
        for (int c = 0; c < n; c++) {
            float lk = kr[j0 + c];
            if (lk == Float.NEGATIVE_INFINITY) s[o + c] = Float.NEGATIVE_INFINITY;
            else if (j0 + c > i) s[o + c] += lk - lq;
        }
    }
}
