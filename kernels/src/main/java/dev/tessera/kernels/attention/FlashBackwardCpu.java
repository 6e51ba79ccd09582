package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.TileKernels.BC;
import static dev.tessera.kernels.attention.TileKernels.BR;

import dev.tessera.runtime.spi.KernelSupport;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The F32 backward of FlashAttention-2 (arXiv 2307.08691, Algorithm 2) on the CPU, deterministic.
 *
 * <p>Nothing Lq×Lk is stored: each tile's probabilities are recomputed from the saved logsumexp,
 * {@code P = exp(S − L)}, then {@code dP = dO·Vᵀ}, {@code dS = P ∘ (dP − D)} with {@code D_i = dO_i·o_i}.
 * GPUs accumulate dQ across key blocks with atomics, which makes the result depend on timing; here each task owns
 * what it writes. With at least as many (batch, key/value head) pairs as threads, one task per pair walks its key
 * tiles and, for each, every query tile that sees it: {@code dV += Pᵀ·dO}, {@code dK += scale·dSᵀ·Q}, the column sums
 * of dS (key bias and the key part of the existence gradient) per query head, and {@code dQ += scale·dS·K} with the
 * row sums {@code Σ_{j>i} dS_ij} (the query part of the existence gradient) — five tile products. With fewer pairs
 * than threads (a long sequence of one head) that would leave threads idle, so it runs in two passes:
 * <ol>
 *   <li>per (batch, key/value head, key tile): dK, dV and the column sums;</li>
 *   <li>per (batch, query head, query tile): dQ and the row sums, recomputing P and dP (seven tile products).</li>
 * </ol>
 * Both visit the key tiles of each dQ row in the same order, so they give the same bits. Per-head partial sums are
 * then reduced over heads in a fixed order.
 */
final class FlashBackwardCpu {
    private FlashBackwardCpu() {}

    /** Results of the backward as per-slice arrays; the per-head partial sums are null where not needed. */
    static final class Result {
        float[][] dq, dk, dv;
        /** Σ_i dS_ij per (b·Hq + h) and key j; Σ_{i<j} dS_ij (existence); Σ_{j>i} dS_ij per query (existence). */
        float[][] colSum, colSumAfter, rowSumAfter;
    }

    static Result run(AttentionTiles t, float[][] out, float[][] lse, float[][] dOut) {
        return run(t, out, lse, dOut, t.g.batch * t.g.kvHeads >= KernelSupport.cpuThreads());
    }

    /** The backward in one pass or in two (the same bits; tests compare them). */
    static Result run(AttentionTiles t, float[][] out, float[][] lse, float[][] dOut, boolean onePass) {
        Geometry g = t.g;
        int P = g.headDim, ldk = t.ldk;
        Result res = new Result();
        res.dq = new float[g.batch * g.qHeads][g.qLen * P]; // accumulated in place, then scaled
        res.dk = new float[g.batch * g.kvHeads][g.kLen * P];
        res.dv = new float[g.batch * g.kvHeads][g.kLen * P];
        boolean cols = t.bias != null, exist = t.lpk != null;
        if (cols) res.colSum = new float[g.batch * g.qHeads][g.kLen];
        if (exist) {
            res.colSumAfter = new float[g.batch * g.qHeads][g.kLen];
            res.rowSumAfter = new float[g.batch * g.qHeads][g.qLen];
        }
        // D_i = dO_i · o_i (= Σ_j P_ij dP_ij), the softmax backward's row term.
        float[][] rowD = new float[g.batch * g.qHeads][g.qLen];
        for (int s = 0; s < rowD.length; s++) {
            for (int i = 0; i < g.qLen; i++) {
                float d = 0;
                for (int p = 0; p < P; p++) d += dOut[s][i * P + p] * out[s][i * P + p];
                rowD[s][i] = d;
            }
        }
        float[][] vT = AttentionTiles.transpose(t.v, g.kLen, P, ldk);
        if (onePass) onePass(t, lse, dOut, rowD, vT, res);
        else twoPasses(t, lse, dOut, rowD, vT, res);
        return res;
    }

    /**
     * Passes 1 and 2 in one, a task per (batch, key/value head) owning that head's dK, dV and its query heads' dQ:
     * five tile products instead of seven, when there are enough heads to keep the threads busy. dQ gets its key
     * tiles' terms in the same order as in pass 2, so the result has the same bits either way.
     */
    private static void onePass(AttentionTiles t, float[][] lse, float[][] dOut, float[][] rowD, float[][] vT, Result res) {
        Geometry g = t.g;
        int tasks = g.batch * g.kvHeads;
        AtomicInteger next = new AtomicInteger();
        KernelSupport.parallelFor(Math.min(tasks, KernelSupport.cpuThreads()), 1, (s0, e0) -> {
            Scratch w = new Scratch(g.headDim);
            for (int bk; (bk = next.getAndIncrement()) < tasks; ) {
                for (int kb = 0; kb + 1 < t.kTiles.length; kb++) keyTile(t, bk, kb, lse, dOut, rowD, vT, res, w, true);
                scaleDq(t, bk, res);
            }
        });
    }

    /** Pass 1 then pass 2, for calls with fewer key/value heads than threads (pass 1 splits by key tile too). */
    private static void twoPasses(AttentionTiles t, float[][] lse, float[][] dOut, float[][] rowD, float[][] vT, Result res) {
        Geometry g = t.g;
        int P = g.headDim, kBlocks = t.kTiles.length - 1, qBlocks = t.qTiles.length - 1;
        boolean exist = t.lpk != null;
        // Pass 1: dK, dV and the column sums, one task per (b, kv head, key tile).
        int tasks1 = g.batch * g.kvHeads * kBlocks;
        AtomicInteger next1 = new AtomicInteger();
        KernelSupport.parallelFor(Math.min(tasks1, KernelSupport.cpuThreads()), 1, (s0, e0) -> {
            Scratch w = new Scratch(P);
            for (int task; (task = next1.getAndIncrement()) < tasks1; ) {
                keyTile(t, task / kBlocks, task % kBlocks, lse, dOut, rowD, vT, res, w, false);
            }
        });

        // Pass 2: dQ and the row sums, one task per (b, query head, query tile).
        int tasks2 = g.batch * g.qHeads * qBlocks;
        AtomicInteger next2 = new AtomicInteger();
        float scale = (float) g.scale;
        KernelSupport.parallelFor(Math.min(tasks2, KernelSupport.cpuThreads()), 1, (s0, e0) -> {
            Scratch w = new Scratch(P);
            for (int task; (task = next2.getAndIncrement()) < tasks2; ) {
                int qb = qBlocks - 1 - task % qBlocks, bh = task / qBlocks, b = bh / g.qHeads, h = bh % g.qHeads;
                int i0 = t.qTiles[qb], rows = t.qTiles[qb + 1] - i0;
                int bk = t.kvSlice(b, h);
                float[] dq = res.dq[bh];
                for (int kb = 0; kb < kBlocks; kb++) {
                    int j0 = t.kTiles[kb], n = t.kTiles[kb + 1] - j0;
                    if (!t.touches(b, i0, rows, j0, j0 + n)) continue;
                    tile(t, b, h, i0, rows, j0, w.sb, w.dp, lse[bh], rowD[bh], dOut[bh], vT[bk]);
                    queryTerms(t, w.dp, bh, bk, i0, rows, j0, n, dq, exist, res);
                }
                for (int x = i0 * P; x < (i0 + rows) * P; x++) dq[x] *= scale;
            }
        });
    }

    /** Per-thread tile buffers. */
    private static final class Scratch {
        final float[] sb = new float[BR * BC], dp = new float[BR * BC], dK, dV;

        Scratch(int P) {
            dK = new float[BC * P];
            dV = new float[BC * P];
        }
    }

    /**
     * Key tile kb of (batch, key/value head) bk against every query tile that sees it, for every query head of the
     * group: dK and dV of the tile, the column sums, and with {@code withQueries} the dQ terms and row sums too.
     */
    private static void keyTile(AttentionTiles t, int bk, int kb, float[][] lse, float[][] dOut, float[][] rowD,
                                float[][] vT, Result res, Scratch w, boolean withQueries) {
        Geometry g = t.g;
        int P = g.headDim, b = bk / g.kvHeads, hk = bk % g.kvHeads;
        int j0 = t.kTiles[kb], n = t.kTiles[kb + 1] - j0;
        boolean cols = t.bias != null, exist = t.lpk != null;
        float[] sb = w.sb, dp = w.dp, dK = w.dK, dV = w.dV;
        java.util.Arrays.fill(dK, 0f);
        java.util.Arrays.fill(dV, 0f);
        for (int h = hk * g.group(); h < (hk + 1) * g.group(); h++) {
            int bh = t.qSlice(b, h);
            for (int qb = 0; qb + 1 < t.qTiles.length; qb++) {
                int i0 = t.qTiles[qb], rows = t.qTiles[qb + 1] - i0;
                if (!t.touches(b, i0, rows, j0, j0 + n)) continue;
                tile(t, b, h, i0, rows, j0, sb, dp, lse[bh], rowD[bh], dOut[bh], vT[bk]);
                TileKernels.accumulate(sb, 1, BC, n, rows, dOut[bh], i0 * P, P, dV, 0);
                TileKernels.accumulate(dp, 1, BC, n, rows, t.q[bh], i0 * P, P, dK, 0);
                for (int r = 0; r < rows && (cols || exist); r++) {
                    for (int c = 0; c < n; c++) {
                        float ds = dp[r * BC + c];
                        if (cols) res.colSum[bh][j0 + c] += ds;
                        if (exist && j0 + c > i0 + r) res.colSumAfter[bh][j0 + c] += ds;
                    }
                }
                if (withQueries) queryTerms(t, dp, bh, bk, i0, rows, j0, n, res.dq[bh], exist, res);
            }
        }
        float scale = (float) g.scale;
        float[] dk = res.dk[bk], dv = res.dv[bk];
        for (int x = 0; x < n * P; x++) {
            dk[j0 * P + x] = scale * dK[x];
            dv[j0 * P + x] = dV[x];
        }
    }

    /** dQ rows [i0, i0+rows) of slice bh += dS·K over keys [j0, j0+n) (unscaled), and the row sums past each query. */
    private static void queryTerms(AttentionTiles t, float[] dp, int bh, int bk, int i0, int rows, int j0, int n,
                                   float[] dq, boolean exist, Result res) {
        TileKernels.accumulate(dp, BC, 1, rows, n, t.k[bk], j0 * t.P, t.P, dq, i0 * t.P);
        if (exist) {
            for (int r = 0; r < rows; r++) {
                float acc = 0;
                for (int c = Math.max(0, i0 + r + 1 - j0); c < n; c++) acc += dp[r * BC + c];
                res.rowSumAfter[bh][i0 + r] += acc;
            }
        }
    }

    /** dQ = scale · (its accumulated terms) for the query heads of (batch, key/value head) bk. */
    private static void scaleDq(AttentionTiles t, int bk, Result res) {
        Geometry g = t.g;
        float scale = (float) g.scale;
        int b = bk / g.kvHeads, hk = bk % g.kvHeads;
        for (int h = hk * g.group(); h < (hk + 1) * g.group(); h++) {
            float[] dq = res.dq[t.qSlice(b, h)];
            for (int x = 0; x < dq.length; x++) dq[x] *= scale;
        }
    }

    /** Recomputes one tile: {@code sb ← P}, {@code dp ← dS}. */
    private static void tile(AttentionTiles t, int b, int h, int i0, int rows, int j0, float[] sb, float[] dp,
                             float[] lse, float[] rowD, float[] dOut, float[] vT) {
        t.logits(sb, b, h, i0, rows, j0);
        TileKernels.dots(dOut, i0 * t.P, rows, t.P, vT, t.ldk, j0, dp);
        for (int r = 0; r < rows; r++) {
            TileKernels.probabilities(sb, r, lse[i0 + r]);
            TileKernels.scoreGradient(sb, dp, r, rowD[i0 + r]);
        }
    }
}
