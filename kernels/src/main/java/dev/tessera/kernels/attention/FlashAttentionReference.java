package dev.tessera.kernels.attention;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;

/**
 * Attention written to be read: it materialises the Lq×Lk logits of each (batch, head) in double precision, takes a
 * plain softmax and the textbook backward. The oracle of every attention test; {@link FlashAttention} also runs it
 * for F64 inputs.
 *
 * <p>Forward, per batch row b and query head h (key/value head {@code h / (Hq/Hkv)}):
 * <pre>
 *   s_ij = scale · q_i·k_j + bias_j + E_ij      if key j is visible to query i (see {@link AttentionOptions}), else −∞
 *   E_ij = clamp(log pK_j) − clamp(log pQ_i)    if j &gt; i,   0 if j ≤ i,   −∞ if pK_j = 0      (existence mode)
 *   P_ij = exp(s_ij − L_i),  L_i = log Σ_j exp(s_ij),  o_i = Σ_j P_ij v_j
 * </pre>
 * with {@code clamp(x) = max(x, log 1e−20)}. A row whose logits are all −∞, or whose query does not exist
 * (pQ_i = 0), gets o_i = 0 and L_i = −∞.
 *
 * <p>Backward: {@code dP_ij = dO_i·v_j}, {@code dS_ij = P_ij (dP_ij − Σ_j' P_ij' dP_ij')},
 * {@code dq_i = scale Σ_j dS_ij k_j}, {@code dk_j = scale Σ_i dS_ij q_i}, {@code dv_j = Σ_i P_ij dO_i},
 * {@code d bias_j = Σ_i dS_ij} (also summed over heads for a [B,Lk] bias),
 * {@code d log pK_j = Σ_{i<j} dS_ij}, {@code d log pQ_i = −Σ_{j>i} dS_ij} (both summed over heads, 0 where the
 * clamp is active or log p = −∞).
 */
public final class FlashAttentionReference {
    private FlashAttentionReference() {}

    /** Gradients of one call's inputs; entries are null for absent inputs. In existence self-attention the two
     *  log p gradients are the query part and the key part of one tensor's gradient (add them). */
    public record Gradients(Tensor dq, Tensor dk, Tensor dv, Tensor dKeyBias, Tensor dLogpQ, Tensor dLogpK) {}

    /** The output [B,Hq,Lq,P] and logsumexp [B,Hq,Lq] (in q's dtype). Records no autograd graph. */
    @SuppressWarnings("try") // the region only switches gradient recording off
    public static FlashAttention.Result forward(Tensor q, Tensor k, Tensor v, AttentionOptions o) {
        Geometry g = Geometry.of(q, k, v, o);
        try (Grad.Region r = Grad.noGrad()) {
            Data d = new Data(q, k, v, o.keyBias(), o.logpQ(), o.logpK());
            double[][] res = forward(g, d);
            return new FlashAttention.Result(Tensor.of(res[0], q.shape()).to(q.dtype()),
                    Tensor.of(res[1], g.batch, g.qHeads, g.qLen).to(q.dtype()));
        }
    }

    /** The gradients of every input given the output gradient {@code dOut} [B,Hq,Lq,P]. */
    @SuppressWarnings("try") // the region only switches gradient recording off
    public static Gradients backward(Tensor q, Tensor k, Tensor v, AttentionOptions o, Tensor dOut) {
        Geometry g = Geometry.of(q, k, v, o);
        try (Grad.Region r = Grad.noGrad()) {
            double[][] res = backward(g, new Data(q, k, v, o.keyBias(), o.logpQ(), o.logpK()), dOut.contiguous().toDoubleArray());
            DType t = q.dtype();
            return new Gradients(Tensor.of(res[0], q.shape()).to(t), Tensor.of(res[1], k.shape()).to(t), Tensor.of(res[2], v.shape()).to(t),
                    o.keyBias() == null ? null : Tensor.of(res[3], o.keyBias().shape()).to(t),
                    g.existence ? Tensor.of(res[4], g.batch, g.qLen).to(t) : null,
                    g.existence ? Tensor.of(res[5], g.batch, g.kLen).to(t) : null);
        }
    }

    /** The inputs as flat double arrays in row-major order. */
    static final class Data {
        final double[] q, k, v, bias, lpq, lpk;

        Data(Tensor q, Tensor k, Tensor v, Tensor bias, Tensor logpQ, Tensor logpK) {
            this.q = q.contiguous().toDoubleArray();
            this.k = k.contiguous().toDoubleArray();
            this.v = v.contiguous().toDoubleArray();
            this.bias = bias == null ? null : bias.contiguous().toDoubleArray();
            lpq = logpQ == null ? null : logpQ.contiguous().toDoubleArray();
            lpk = logpK == null ? null : logpK.contiguous().toDoubleArray();
        }
    }

    /** The masks of {@link AttentionOptions}, one key at a time. */
    static boolean visible(Geometry g, int b, int i, int j) {
        if (j >= g.keyLength[b]) return false;
        if (g.docId != null && g.docId[i] != g.docId[j]) return false;
        int t = i + g.keyLength[b] - g.qLen; // queries are the last Lq positions
        if (g.causal && j > t) return false;
        if (g.window >= 0 && t - j > g.window) return false;
        return g.window < 0 || g.causal || j - t <= g.window;
    }

    /** The logits s_ij of (b, h) as a materialised [Lq][Lk] matrix, −∞ where masked. */
    static double[][] logits(Geometry g, Data d, int b, int h) {
        int P = g.headDim, hk = h / g.group();
        double[][] s = new double[g.qLen][g.kLen];
        for (int i = 0; i < g.qLen; i++) {
            for (int j = 0; j < g.kLen; j++) {
                double e = existenceBias(g, d, b, i, j);
                if (!visible(g, b, i, j) || e == Double.NEGATIVE_INFINITY) {
                    s[i][j] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double dot = 0;
                for (int p = 0; p < P; p++) dot += d.q[qIndex(g, b, h, i) + p] * d.k[kIndex(g, b, hk, j) + p];
                s[i][j] = g.scale * dot + e + (d.bias == null ? 0 : d.bias[biasIndex(g, b, h, j)]);
            }
        }
        return s;
    }

    /** E_ij of Zonkey's probabilistic attention (arXiv 2601.21768): log P(key j exists | query i exists). */
    static double existenceBias(Geometry g, Data d, int b, int i, int j) {
        if (!g.existence) return 0;
        double lq = d.lpq[b * g.qLen + i], lk = d.lpk[b * g.kLen + j];
        if (lq == Double.NEGATIVE_INFINITY || lk == Double.NEGATIVE_INFINITY) return Double.NEGATIVE_INFINITY;
        return j > i ? clamp(lk) - clamp(lq) : 0;
    }

    static double clamp(double logp) { return Math.max(logp, ProbabilisticAttention.LOG_P_MIN); }

    /** d clamp(x) / dx: the gradient passes where the clamp is inactive. */
    static double clampGrad(double logp) { return logp >= ProbabilisticAttention.LOG_P_MIN ? 1 : 0; }

    private static int qIndex(Geometry g, int b, int h, int i) { return ((b * g.qHeads + h) * g.qLen + i) * g.headDim; }

    private static int kIndex(Geometry g, int b, int hk, int j) { return ((b * g.kvHeads + hk) * g.kLen + j) * g.headDim; }

    private static int biasIndex(Geometry g, int b, int h, int j) { return g.biasHeads == 1 ? b * g.kLen + j : (b * g.qHeads + h) * g.kLen + j; }

    /** Softmax of one row of logits; all zeros when every logit is −∞. */
    static double[] softmax(double[] s) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : s) m = Math.max(m, x);
        double[] p = new double[s.length];
        if (m == Double.NEGATIVE_INFINITY) return p;
        double sum = 0;
        for (int j = 0; j < s.length; j++) sum += p[j] = Math.exp(s[j] - m);
        for (int j = 0; j < s.length; j++) p[j] /= sum;
        return p;
    }

    /** {out, lse} as flat arrays. */
    static double[][] forward(Geometry g, Data d) {
        int P = g.headDim;
        double[] out = new double[g.batch * g.qHeads * g.qLen * P], lse = new double[g.batch * g.qHeads * g.qLen];
        for (int b = 0; b < g.batch; b++) {
            for (int h = 0; h < g.qHeads; h++) {
                double[][] s = logits(g, d, b, h);
                int hk = h / g.group();
                for (int i = 0; i < g.qLen; i++) {
                    double m = Double.NEGATIVE_INFINITY, sum = 0;
                    for (double x : s[i]) m = Math.max(m, x);
                    for (double x : s[i]) sum += m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(x - m);
                    lse[(b * g.qHeads + h) * g.qLen + i] = sum == 0 ? Double.NEGATIVE_INFINITY : m + Math.log(sum);
                    double[] pr = softmax(s[i]);
                    for (int j = 0; j < g.kLen; j++) {
                        if (pr[j] == 0) continue;
                        for (int p = 0; p < P; p++) out[qIndex(g, b, h, i) + p] += pr[j] * d.v[kIndex(g, b, hk, j) + p];
                    }
                }
            }
        }
        return new double[][] {out, lse};
    }

    /** {dq, dk, dv, dbias, dlogpQ, dlogpK} as flat arrays. */
    static double[][] backward(Geometry g, Data d, double[] dOut) {
        int P = g.headDim;
        double[] dq = new double[d.q.length], dk = new double[d.k.length], dv = new double[d.v.length];
        double[] dBias = d.bias == null ? null : new double[d.bias.length];
        double[] dLpq = g.existence ? new double[g.batch * g.qLen] : null, dLpk = g.existence ? new double[g.batch * g.kLen] : null;
        for (int b = 0; b < g.batch; b++) {
            for (int h = 0; h < g.qHeads; h++) {
                double[][] s = logits(g, d, b, h);
                int hk = h / g.group();
                for (int i = 0; i < g.qLen; i++) {
                    double[] pr = softmax(s[i]);
                    double[] dP = new double[g.kLen];
                    double rowDot = 0; // Σ_j P_ij dP_ij, which equals dO_i·o_i
                    for (int j = 0; j < g.kLen; j++) {
                        if (pr[j] == 0) continue;
                        for (int p = 0; p < P; p++) dP[j] += dOut[qIndex(g, b, h, i) + p] * d.v[kIndex(g, b, hk, j) + p];
                        rowDot += pr[j] * dP[j];
                    }
                    for (int j = 0; j < g.kLen; j++) {
                        if (pr[j] == 0) continue;
                        double dS = pr[j] * (dP[j] - rowDot);
                        for (int p = 0; p < P; p++) {
                            dq[qIndex(g, b, h, i) + p] += g.scale * dS * d.k[kIndex(g, b, hk, j) + p];
                            dk[kIndex(g, b, hk, j) + p] += g.scale * dS * d.q[qIndex(g, b, h, i) + p];
                            dv[kIndex(g, b, hk, j) + p] += pr[j] * dOut[qIndex(g, b, h, i) + p];
                        }
                        if (dBias != null) dBias[biasIndex(g, b, h, j)] += dS;
                        if (g.existence && j > i) {
                            dLpk[b * g.kLen + j] += dS * clampGrad(d.lpk[b * g.kLen + j]);
                            dLpq[b * g.qLen + i] -= dS * clampGrad(d.lpq[b * g.qLen + i]);
                        }
                    }
                }
            }
        }
        return new double[][] {dq, dk, dv, dBias, dLpq, dLpk};
    }
}
