package dev.tessera.kernels.attention;

import dev.tessera.runtime.Tensor;

/**
 * The options of one {@link FlashAttention} call. Build with {@link #builder()}; {@link #defaults()} is plain
 * bidirectional attention with scale 1/√P.
 *
 * <p>Masks compose: a key j is visible to query i of batch row b when every option that is set allows it, with the
 * query's position {@code t = i + keyLengths[b] − Lq} (queries are the last Lq positions of their row):
 * <ul>
 *   <li>{@code keyLengths[b]} (KV cache rows of different lengths): {@code j < keyLengths[b]}; default Lk;</li>
 *   <li>{@code causal}: {@code j ≤ t};</li>
 *   <li>{@code window = w ≥ 0}: {@code t − w ≤ j} (and {@code j ≤ t + w} when bidirectional); −1 = none;</li>
 *   <li>{@code cuSeqlens} [D+1] (packed documents, the same packing in every batch row, Lq = Lk): i and j lie in
 *       the same document; positions restart per document, which for these masks is the same as comparing
 *       packed indices inside one document;</li>
 *   <li>an additive {@code keyBias} [B,Lk] or [B,Hq,Lk] of −∞ hides a key;</li>
 *   <li>existence mode ({@link #logpQ}, {@link #logpK}, Zonkey arXiv 2601.21768): see {@link ProbabilisticAttention}.</li>
 * </ul>
 *
 * @param scale      the logit scale; NaN means 1/√P
 * @param causal     causal (true) or bidirectional (false)
 * @param window     sliding window w, or −1 for none
 * @param keyBias    additive per-key bias [B,Lk] (shared by heads) or [B,Hq,Lk], or null; it gets a gradient
 * @param cuSeqlens  document boundaries {@code 0 = c_0 ≤ c_1 ≤ … ≤ c_D = L} of packed sequences, or null
 * @param keyLengths valid keys per batch row (the rest of the k/v buffer is ignored), or null for all Lk
 * @param logpQ      queries' log existence probabilities [B,Lq] (−∞ = does not exist), or null
 * @param logpK      keys' log existence probabilities [B,Lk]; the same tensor as {@code logpQ} for self-attention
 */
public record AttentionOptions(double scale, boolean causal, int window, Tensor keyBias, int[] cuSeqlens,
                               int[] keyLengths, Tensor logpQ, Tensor logpK) {

    /** Bidirectional, default scale, no masks. */
    public static AttentionOptions defaults() { return builder().build(); }

    public static Builder builder() { return new Builder(); }

    /** A builder that starts from these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.scale = scale;
        b.causal = causal;
        b.window = window;
        b.keyBias = keyBias;
        b.cuSeqlens = cuSeqlens;
        b.keyLengths = keyLengths;
        b.logpQ = logpQ;
        b.logpK = logpK;
        return b;
    }

    /** True in existence (probabilistic attention) mode. */
    public boolean existence() { return logpQ != null; }

    /** Mutable builder of {@link AttentionOptions}. */
    public static final class Builder {
        private double scale = Double.NaN;
        private boolean causal;
        private int window = -1;
        private Tensor keyBias, logpQ, logpK;
        private int[] cuSeqlens, keyLengths;

        private Builder() {}

        public Builder scale(double s) { scale = s; return this; }

        public Builder causal(boolean c) { causal = c; return this; }

        /** Query t sees keys t−w..t (t−w..t+w when bidirectional); −1 = no window. */
        public Builder window(int w) { window = w; return this; }

        public Builder keyBias(Tensor b) { keyBias = b; return this; }

        public Builder cuSeqlens(int... c) { cuSeqlens = c == null ? null : c.clone(); return this; }

        /** Document boundaries as an integer tensor [D+1]. */
        public Builder cuSeqlens(Tensor c) {
            if (c == null) { cuSeqlens = null; return this; }
            long[] l = c.toLongArray();
            cuSeqlens = new int[l.length];
            for (int i = 0; i < l.length; i++) cuSeqlens[i] = Math.toIntExact(l[i]);
            return this;
        }

        public Builder keyLengths(int... l) { keyLengths = l == null ? null : l.clone(); return this; }

        /** Self-attention existence mode from log p [B,L]. */
        public Builder existence(Tensor logp) { logpQ = logp; logpK = logp; return this; }

        /** Cross-attention existence mode: queries' log p [B,Lq] and keys' log p [B,Lk]. */
        public Builder existence(Tensor logpQueries, Tensor logpKeys) { logpQ = logpQueries; logpK = logpKeys; return this; }

        public AttentionOptions build() {
            return new AttentionOptions(scale, causal, window, keyBias, cuSeqlens, keyLengths, logpQ, logpK);
        }
    }
}
