package dev.tessera.kernels.attention;

import dev.tessera.runtime.Tensor;

/**
 * Zonkey's probabilistic attention (arXiv 2601.21768, "Probabilistic Attention"): bidirectional attention over
 * positions that exist only with some probability p, a mode of the {@link FlashAttention} kernel (the bias is
 * computed per tile inside it, never as an L×L matrix).
 *
 * <p>From log p [B,L] (−∞ = does not exist; finite values are clamped below at {@link #LOG_P_MIN} = log 1e−20):
 * <pre>
 *   s_qk = scale · Q_q·K_k + E_qk,    E_qk = log p_k − log p_q   if k &gt; q    (= log P(k exists | q exists))
 *                                          = 0                   if k ≤ q
 *                                          = −∞                  if p_k = 0
 * </pre>
 * Rows with p_q = 0 output 0. Gradients: {@code d log p_k += Σ_{q<k} dS_qk}, {@code d log p_q −= Σ_{k>q} dS_qk},
 * summed over heads (and over both roles in self-attention).
 *
 * <p><b>Cross-attention</b> (Zonkey's Stitcher refiner): queries and keys come from two sequences, each with its own
 * existence probabilities pQ [B,Lq] and pK [B,Lk]. Our reading of the reference code ({@code cross_forward} at commit
 * fb96933): the same rule with each sequence's own positions, i.e. with q and k the indices within their own
 * sequences, {@code E_qk = log pK_k − log pQ_q if k > q, 0 if k ≤ q, −∞ if pK_k = 0}, and rows with pQ_q = 0 output
 * 0. Self-attention is the case pQ = pK. (The reference code hides absent queries with the dtype's minimum before
 * the softmax and then zeroes those rows; the output is the same.)
 */
public final class ProbabilisticAttention {
    private ProbabilisticAttention() {}

    /** log 1e−20: finite log p below it are raised to it (Zonkey clamps p at 1e−20 before the log). */
    public static final double LOG_P_MIN = Math.log(1e-20);

    /** Self-attention with existence log p [B,L]; q [B,Hq,L,P], k, v [B,Hkv,L,P]; scale 1/√P. */
    public static Tensor apply(Tensor q, Tensor k, Tensor v, Tensor logp) {
        return apply(q, k, v, logp, AttentionOptions.defaults());
    }

    /** Self-attention with existence, on top of other options (scale, cuSeqlens, key bias, ...). */
    public static Tensor apply(Tensor q, Tensor k, Tensor v, Tensor logp, AttentionOptions base) {
        if (logp == null) throw new IllegalArgumentException("probabilistic_attention: logp [B,L] is required");
        return FlashAttention.apply(q, k, v, base.toBuilder().existence(logp).build());
    }

    /** Cross-attention: queries' log p [B,Lq], keys' log p [B,Lk]; q [B,Hq,Lq,P], k, v [B,Hkv,Lk,P]. */
    public static Tensor cross(Tensor q, Tensor k, Tensor v, Tensor logpQueries, Tensor logpKeys) {
        return cross(q, k, v, logpQueries, logpKeys, AttentionOptions.defaults());
    }

    /** Cross-attention with existence, on top of other options. */
    public static Tensor cross(Tensor q, Tensor k, Tensor v, Tensor logpQueries, Tensor logpKeys, AttentionOptions base) {
        if (logpQueries == null || logpKeys == null) {
            throw new IllegalArgumentException("probabilistic_attention: cross-attention needs the queries' and the keys' log p");
        }
        return FlashAttention.apply(q, k, v, base.toBuilder().existence(logpQueries, logpKeys).build());
    }
}
