package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.TileKernels.BC;
import static dev.tessera.kernels.attention.TileKernels.BR;

import dev.tessera.runtime.spi.KernelSupport;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The tiled F32 forward of FlashAttention-2 (arXiv 2307.08691, Algorithm 1) on the CPU.
 *
 * <p>One task per (batch, query head, tile of at most {@link TileKernels#BR} queries; packed documents start their
 * own tiles). A task walks the key tiles its rows can
 * see (causal and window masks skip the rest), keeps per row a running max m, a running sum l and an unnormalised
 * output in a [BR, P] accumulator, and writes {@code o = acc / l} and {@code L = m + log l} once at the end. No Lq×Lk
 * matrix exists; the work per task is O(BR·Lk·P) with O(BR·(BC + P)) memory.
 *
 * <p>Tasks are taken from a shared counter by the pool's workers (causal tasks differ in cost by up to Lk/BR), the
 * most expensive first; each output element is written by exactly one task, so the result does not depend on timing.
 */
final class FlashForwardCpu {
    private FlashForwardCpu() {}

    /** Below this many multiply-adds (q·k and p·v together) the forward runs on the calling thread. */
    static final long SMALL_WORK = 1L << 18;

    /** Fills {@code out} [B·Hq][Lq·P] and {@code lse} [B·Hq][Lq]. */
    static void run(AttentionTiles t, float[][] out, float[][] lse) {
        Geometry g = t.g;
        int blocks = t.qTiles.length - 1, tasks = g.batch * g.qHeads * blocks;
        AtomicInteger next = new AtomicInteger();
        // A decoding step's attention is a few thousand multiply-adds: waking a pool thread for it took longer (a
        // batch-1 step of hnet-tiny's inner attention spent 88 µs here, 4 of its 5 in the handoff).
        long work = 2L * g.batch * g.qHeads * g.qLen * g.kLen * g.headDim;
        int workers = work < SMALL_WORK ? 1 : Math.min(tasks, KernelSupport.cpuThreads());
        KernelSupport.parallelFor(workers, 1, (s, e) -> {
            int P = g.headDim;
            float[] sb = new float[BR * BC], acc = new float[BR * P], m = new float[BR], l = new float[BR];
            for (int task; (task = next.getAndIncrement()) < tasks; ) {
                int qb = blocks - 1 - task % blocks, bh = task / blocks; // later query blocks see more keys: start them first
                int b = bh / g.qHeads, h = bh % g.qHeads;
                int i0 = t.qTiles[qb], rows = t.qTiles[qb + 1] - i0;
                Arrays.fill(acc, 0f);
                Arrays.fill(m, Float.NEGATIVE_INFINITY);
                Arrays.fill(l, 0f);
                int[] u = t.union(b, i0, rows);
                float[] vs = t.v[t.kvSlice(b, h)];
                for (int j0 = u[0]; j0 < u[1]; j0 += BC) {
                    int n = Math.min(BC, u[1] - j0);
                    t.logits(sb, b, h, i0, rows, j0);
                    for (int r = 0; r < rows; r++) TileKernels.softmaxStep(sb, r, m, l, acc, P);
                    TileKernels.accumulate(sb, BC, 1, rows, n, vs, j0 * P, P, acc, 0);
                }
                float[] o = out[bh], ls = lse[bh];
                for (int r = 0; r < rows; r++) {
                    int i = i0 + r;
                    if (l[r] > 0) {
                        float inv = 1 / l[r];
                        for (int p = 0; p < P; p++) o[i * P + p] = acc[r * P + p] * inv;
                        ls[i] = m[r] + (float) Math.log(l[r]);
                    } else { // every visible key masked: output 0, and L = −∞ tells the backward to skip the row
                        Arrays.fill(o, i * P, i * P + P, 0f);
                        ls[i] = Float.NEGATIVE_INFINITY;
                    }
                }
            }
        });
    }
}
