package dev.tessera.kernels.routing;

/**
 * Naive double-precision chunk routing, written to be read: the oracle of every test and the implementation the
 * ops use for F64 tensors. Arrays are nested Java arrays: q, k, x̂, out [B][L][D]; ẑ [B][M][D]; p, b, c [B][L].
 * Sequence starts and padding come from a {@link Layout}. H-Net, arXiv 2507.07955, §2.2 eqs. (4)–(9).
 */
final class ChunkRoutingReference {
    /** F.normalize's eps: a vector is divided by max(‖v‖, eps). */
    static final double NORM_EPS = 1e-12;
    /** The smoothing probability P is clamped to [P_MIN, 1 − P_MIN] (reference code, DeChunkLayer). */
    static final double P_MIN = 1e-4;

    private ChunkRoutingReference() {}

    record Route(double[][] p, boolean[][] b, double[][] c) {}

    record RouteGrad(double[][][] dq, double[][][] dk) {}

    record DechunkGrad(double[][][] dzhat, double[][] dp, double[][] dc) {}

    // ------------------------------------------------------------------ route, eq. (4)

    static double norm(double[] v) {
        double s = 0;
        for (double x : v) s += x * x;
        return Math.sqrt(s);
    }

    /** cos = ⟨q/max(‖q‖, eps), k/max(‖k‖, eps)⟩. */
    static double cosine(double[] q, double[] k) {
        double nq = Math.max(norm(q), NORM_EPS), nk = Math.max(norm(k), NORM_EPS), dot = 0;
        for (int i = 0; i < q.length; i++) dot += (q[i] / nq) * (k[i] / nk);
        return dot;
    }

    /** p = clamp((1 − cos)/2, 0, 1). */
    static double boundaryProb(double cos) { return Math.min(1, Math.max(0, (1 - cos) / 2)); }

    /** b = p > 0.5 (the code's argmax over (1 − p, p) picks "no boundary" at a tie). */
    static boolean isBoundary(double p) { return p > 0.5; }

    /** c = max(p, 1 − p): the probability of the side chosen. */
    static double confidence(double p, boolean b) { return b ? p : 1 - p; }

    /** p at sequence starts is 1, at padding 0 (so b = 0 and c = 1 there); elsewhere from q_{t−1} and k_t. */
    static Route route(double[][][] q, double[][][] k, Layout layout) {
        int nb = q.length, len = nb == 0 ? 0 : q[0].length;
        double[][] p = new double[nb][len], c = new double[nb][len];
        boolean[][] b = new boolean[nb][len];
        for (int r = 0; r < nb; r++) {
            for (int t = 0; t < len; t++) {
                int i = r * len + t;
                if (!layout.valid(i)) p[r][t] = 0;
                else if (layout.start(i)) p[r][t] = 1;
                else p[r][t] = boundaryProb(cosine(q[r][t - 1], k[r][t]));
                b[r][t] = layout.valid(i) && isBoundary(p[r][t]);
                c[r][t] = confidence(p[r][t], b[r][t]);
            }
        }
        return new Route(p, b, c);
    }

    /**
     * d p_t / d q_{t−1} and d k_t. With u = (1 − cos)/2 (gradient passes where 0 ≤ u ≤ 1, as torch.clamp's), n = max(‖v‖, eps):
     * d cos / d q = k̂/n_q − cos·q/n_q² (the second term only when ‖q‖ > eps), the same with q and k swapped.
     */
    static RouteGrad routeBackward(double[][][] q, double[][][] k, Layout layout, double[][] dp) {
        int nb = q.length, len = nb == 0 ? 0 : q[0].length, d = nb == 0 || len == 0 ? 0 : q[0][0].length;
        double[][][] dq = new double[nb][len][d], dk = new double[nb][len][d];
        for (int r = 0; r < nb; r++) {
            for (int t = 1; t < len; t++) {
                int i = r * len + t;
                if (!layout.valid(i) || layout.start(i)) continue;
                double[] qv = q[r][t - 1], kv = k[r][t];
                double cos = cosine(qv, kv), u = (1 - cos) / 2;
                if (u < 0 || u > 1) continue;
                double g = -dp[r][t] / 2;
                double lq = norm(qv), lk = norm(kv), nq = Math.max(lq, NORM_EPS), nk = Math.max(lk, NORM_EPS);
                for (int j = 0; j < d; j++) {
                    double gq = kv[j] / (nk * nq) - (lq > NORM_EPS ? cos * qv[j] / (nq * nq) : 0);
                    double gk = qv[j] / (nq * nk) - (lk > NORM_EPS ? cos * kv[j] / (nk * nk) : 0);
                    dq[r][t - 1][j] += g * gq;
                    dk[r][t][j] += g * gk;
                }
            }
        }
        return new RouteGrad(dq, dk);
    }

    /** c = b ? p : 1 − p, so dp = ±dc. */
    static double[][] confidenceBackward(boolean[][] b, double[][] dc) {
        double[][] dp = new double[b.length][];
        for (int r = 0; r < b.length; r++) {
            dp[r] = new double[b[r].length];
            for (int t = 0; t < b[r].length; t++) dp[r][t] = b[r][t] ? dc[r][t] : -dc[r][t];
        }
        return dp;
    }

    // ------------------------------------------------------------------ chunk

    static int count(boolean[] row) {
        int n = 0;
        for (boolean v : row) if (v) n++;
        return n;
    }

    /** Rows with b = 1, in order, padded with zeros to M = max count: [B][M][D]. */
    static double[][][] chunk(double[][][] x, boolean[][] b, int d) {
        int m = 0;
        for (boolean[] row : b) m = Math.max(m, count(row));
        double[][][] y = new double[x.length][m][d];
        for (int r = 0; r < x.length; r++) {
            int j = 0;
            for (int t = 0; t < b[r].length; t++) if (b[r][t]) y[r][j++] = x[r][t].clone();
        }
        return y;
    }

    /** Scatters dy back to the boundary positions; zeros elsewhere. */
    static double[][][] chunkBackward(double[][][] dy, boolean[][] b, int d) {
        double[][][] dx = new double[b.length][][];
        for (int r = 0; r < b.length; r++) {
            dx[r] = new double[b[r].length][d];
            int j = 0;
            for (int t = 0; t < b[r].length; t++) if (b[r][t]) dx[r][t] = dy[r][j++].clone();
        }
        return dx;
    }

    // ------------------------------------------------------------------ dechunk, eqs. (5)–(9)

    /** P = clamp(p, 1e−4, 1 − 1e−4). */
    static double smoothingProb(double p) { return Math.min(1 - P_MIN, Math.max(P_MIN, p)); }

    /** One EMA step z̄_k = P·ẑ_k + (1 − P)·z̄_{k−1}. */
    static double ema(double prob, double zhat, double previous) { return prob * zhat + (1 - prob) * previous; }

    /** True where the EMA state resets: each row's first position and every sequence start. */
    static boolean resets(Layout layout, int r, int t) { return t == 0 || layout.start(r * layout.length + t); }

    /** z̄ of every chunk, [B][M][D] (the same chunk numbering as {@link #chunk}). */
    static double[][][] smoothed(double[][][] zhat, double[][] p, boolean[][] b, Layout layout) {
        double[][][] zbar = new double[zhat.length][][];
        for (int r = 0; r < zhat.length; r++) {
            int d = zhat[r].length == 0 ? 0 : zhat[r][0].length;
            zbar[r] = new double[zhat[r].length][d];
            double[] previous = new double[d];
            int k = -1;
            for (int t = 0; t < b[r].length; t++) {
                if (resets(layout, r, t)) previous = new double[d];
                if (!b[r][t]) continue;
                k++;
                double prob = smoothingProb(p[r][t]);
                for (int j = 0; j < d; j++) zbar[r][k][j] = ema(prob, zhat[r][k][j], previous[j]);
                previous = zbar[r][k];
            }
        }
        return zbar;
    }

    /** The chunk whose EMA output position t shows, or −1 before the first chunk of t's sequence: [B][L]. */
    static int[][] chunkOf(boolean[][] b, Layout layout) {
        int[][] of = new int[b.length][];
        for (int r = 0; r < b.length; r++) {
            of[r] = new int[b[r].length];
            int k = -1, current = -1;
            for (int t = 0; t < b[r].length; t++) {
                if (resets(layout, r, t)) current = -1;
                if (b[r][t]) current = ++k;
                of[r][t] = current;
            }
        }
        return of;
    }

    /** out_t = z̄[cumsum(b)_t − 1] (0 before the sequence's first chunk); the STE(c) factor is 1 forward. */
    static double[][][] dechunk(double[][][] zhat, double[][] p, boolean[][] b, Layout layout, int d) {
        double[][][] zbar = smoothed(zhat, p, b, layout);
        int[][] of = chunkOf(b, layout);
        double[][][] out = new double[b.length][][];
        for (int r = 0; r < b.length; r++) {
            out[r] = new double[b[r].length][d];
            for (int t = 0; t < b[r].length; t++) if (of[r][t] >= 0) out[r][t] = zbar[r][of[r][t]].clone();
        }
        return out;
    }

    /**
     * Gradients of dechunk: dc_t = ⟨dout_t, z̄_{k(t)}⟩ (the STE); g_k = Σ_{t: k(t)=k} dout_t (upsample);
     * dz̄_k = g_k + (1 − P_{k+1})·dz̄_{k+1} within a sequence (reverse scan); dẑ_k = P_k·dz̄_k;
     * dP_k = ⟨dz̄_k, ẑ_k − z̄_{k−1}⟩, passed to p at the boundary where the clamp is inactive.
     */
    static DechunkGrad dechunkBackward(double[][][] zhat, double[][] p, boolean[][] b, Layout layout, double[][][] dout) {
        double[][][] zbar = smoothed(zhat, p, b, layout);
        int[][] of = chunkOf(b, layout);
        int nb = b.length;
        double[][][] dzhat = new double[nb][][];
        double[][] dp = new double[nb][], dc = new double[nb][];
        for (int r = 0; r < nb; r++) {
            int len = b[r].length, m = zhat[r].length, d = m == 0 ? 0 : zhat[r][0].length;
            dzhat[r] = new double[m][d];
            dp[r] = new double[len];
            dc[r] = new double[len];
            double[][] g = new double[m][d];
            int[] position = new int[m];
            boolean[] first = new boolean[m]; // the first chunk of its sequence: z̄_{k−1} = 0 and no carry from k to k−1
            for (int t = 0; t < len; t++) {
                int k = of[r][t];
                if (k < 0) continue;
                for (int j = 0; j < d; j++) {
                    dc[r][t] += dout[r][t][j] * zbar[r][k][j];
                    g[k][j] += dout[r][t][j];
                }
                if (b[r][t]) {
                    position[k] = t;
                    first[k] = k == 0 || of[r][t - 1] < 0 || resets(layout, r, t);
                }
            }
            int chunks = 0;
            for (int t = 0; t < len; t++) if (b[r][t]) chunks++;
            double[] carry = new double[d]; // (1 − P_{k+1})·dz̄_{k+1}
            for (int k = chunks - 1; k >= 0; k--) {
                double pk = p[r][position[k]], prob = smoothingProb(pk);
                double[] dzbar = new double[d];
                double dprob = 0;
                for (int j = 0; j < d; j++) {
                    dzbar[j] = g[k][j] + carry[j];
                    dzhat[r][k][j] = prob * dzbar[j];
                    double previous = first[k] ? 0 : zbar[r][k - 1][j];
                    dprob += dzbar[j] * (zhat[r][k][j] - previous);
                }
                if (pk >= P_MIN && pk <= 1 - P_MIN) dp[r][position[k]] = dprob;
                for (int j = 0; j < d; j++) carry[j] = first[k] ? 0 : (1 - prob) * dzbar[j];
            }
        }
        return new DechunkGrad(dzhat, dp, dc);
    }
}
