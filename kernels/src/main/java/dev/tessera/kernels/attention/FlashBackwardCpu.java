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
 * GPUs accumulate dQ across key blocks with atomics, which makes the result depend on timing; here two passes
 * each own their outputs instead:
 * <ol>
 *   <li>per (batch, key/value head, key tile): {@code dV += Pᵀ·dO}, {@code dK += scale·dSᵀ·Q} over every query head
 *       of the group and every query tile that sees the keys, plus the column sums of dS (key bias and the key part
 *       of the existence gradient) per query head;</li>
 *   <li>per (batch, query head, query tile): {@code dQ = scale·dS·K}, plus the row sums {@code Σ_{j>i} dS_ij}
 *       (the query part of the existence gradient).</li>
 * </ol>
 * Pass 2 recomputes P and dP once more (seven tile products instead of five): the price of having no atomics.
 * Per-head partial sums are then reduced over heads in a fixed order.
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
        Geometry g = t.g;
        int P = g.headDim, ldk = t.ldk;
        Result res = new Result();
        res.dq = new float[g.batch * g.qHeads][g.qLen * P];
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
        float scale = (float) g.scale;
        int qBlocks = (g.qLen + BR - 1) / BR, kBlocks = (g.kLen + BC - 1) / BC;

        // Pass 1: dK, dV and the column sums, one task per (b, kv head, key tile).
        int tasks1 = g.batch * g.kvHeads * kBlocks;
        AtomicInteger next1 = new AtomicInteger();
        KernelSupport.parallelFor(Math.min(tasks1, KernelSupport.cpuThreads()), 1, (s0, e0) -> {
            float[] sb = new float[BR * BC], dp = new float[BR * BC], dK = new float[BC * P], dV = new float[BC * P];
            for (int task; (task = next1.getAndIncrement()) < tasks1; ) {
                int kb = task % kBlocks, bk = task / kBlocks, b = bk / g.kvHeads, hk = bk % g.kvHeads;
                int j0 = kb * BC, n = Math.min(BC, g.kLen - j0);
                java.util.Arrays.fill(dK, 0f);
                java.util.Arrays.fill(dV, 0f);
                for (int h = hk * g.group(); h < (hk + 1) * g.group(); h++) {
                    int bh = t.qSlice(b, h);
                    for (int qb = 0; qb < qBlocks; qb++) {
                        int i0 = qb * BR, rows = Math.min(BR, g.qLen - i0);
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
                    }
                }
                float[] dk = res.dk[bk], dv = res.dv[bk];
                for (int x = 0; x < n * P; x++) {
                    dk[j0 * P + x] = scale * dK[x];
                    dv[j0 * P + x] = dV[x];
                }
            }
        });

        // Pass 2: dQ and the row sums, one task per (b, query head, query tile).
        int tasks2 = g.batch * g.qHeads * qBlocks;
        AtomicInteger next2 = new AtomicInteger();
        KernelSupport.parallelFor(Math.min(tasks2, KernelSupport.cpuThreads()), 1, (s0, e0) -> {
            float[] sb = new float[BR * BC], dp = new float[BR * BC], dQ = new float[BR * P];
            for (int task; (task = next2.getAndIncrement()) < tasks2; ) {
                int qb = qBlocks - 1 - task % qBlocks, bh = task / qBlocks, b = bh / g.qHeads, h = bh % g.qHeads;
                int i0 = qb * BR, rows = Math.min(BR, g.qLen - i0);
                int bk = t.kvSlice(b, h);
                java.util.Arrays.fill(dQ, 0f);
                int[] u = t.union(b, i0, rows);
                for (int j0 = u[0]; j0 < u[1]; j0 += BC) {
                    int n = Math.min(BC, u[1] - j0);
                    tile(t, b, h, i0, rows, j0, sb, dp, lse[bh], rowD[bh], dOut[bh], vT[bk]);
                    TileKernels.accumulate(dp, BC, 1, rows, n, t.k[bk], j0 * P, P, dQ, 0);
                    if (exist) {
                        for (int r = 0; r < rows; r++) {
                            float acc = 0;
                            for (int c = Math.max(0, i0 + r + 1 - j0); c < n; c++) acc += dp[r * BC + c];
                            res.rowSumAfter[bh][i0 + r] += acc;
                        }
                    }
                }
                float[] dq = res.dq[bh];
                for (int x = 0; x < rows * P; x++) dq[i0 * P + x] = scale * dQ[x];
            }
        });
        return res;
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
