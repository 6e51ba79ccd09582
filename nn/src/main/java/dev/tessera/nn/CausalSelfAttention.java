package dev.tessera.nn;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.kernels.attention.KvCache;
import dev.tessera.runtime.Autocast;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Tensor;

/**
 * Causal multi-head self-attention as in H-Net's Transformer blocks: {@code Wqkv} Linear(D, 3D) (no bias),
 * rotary embedding on the first {@code rotaryDim} channels of each head, flash attention (optionally a sliding
 * window: a position sees itself and the {@code window} previous ones), {@code out_proj} Linear(D, D) (no bias).
 */
public final class CausalSelfAttention extends Module implements Mixer {
    private final Linear wqkv, outProj;
    private final int heads, headDim, window;
    private final RotaryEmbedding rotary;

    /**
     * @param rotaryDim channels per head that rotate (0 for none)
     * @param window    sliding window, or −1 for global attention
     */
    public CausalSelfAttention(int dim, int heads, int rotaryDim, int window, Generator gen) {
        if (heads <= 0 || dim % heads != 0) throw new IllegalArgumentException("attention: dim " + dim + " is not a multiple of heads " + heads);
        this.heads = heads;
        this.headDim = dim / heads;
        this.window = window;
        this.rotary = rotaryDim > 0 ? new RotaryEmbedding(rotaryDim, 10000) : null;
        this.wqkv = module("Wqkv", new Linear(dim, 3 * dim, false, gen));
        this.outProj = module("out_proj", new Linear(dim, dim, false, gen));
    }

    public Linear outProj() { return outProj; }

    /** The projections, and 4·D per query–key pair: q·k over each head's P channels, then the weights times v. */
    @Override public ForwardFlops forwardFlops(double positions) {
        double pairs = ForwardFlops.causalPairs(positions, window);
        return super.forwardFlops(positions).plus(new ForwardFlops(0, 4.0 * heads * headDim * pairs, 0, 0));
    }

    private AttentionOptions options() { return options(null); }

    private AttentionOptions options(int[] cuSeqlens) {
        return AttentionOptions.builder().causal(true).window(window).cuSeqlens(cuSeqlens).build();
    }

    /** q, k, v as [B, H, L, P] from x [B, L, D], rotated for the given positions [L]. */
    private Tensor[] qkv(Tensor x, int[] pos) {
        int b = x.size(0), l = x.size(1);
        Tensor t = wqkv.forward(x).reshape(b, l, 3, heads, headDim).permute(2, 0, 3, 1, 4); // [3, B, H, L, P]
        Tensor q = t.select(0, 0), k = t.select(0, 1), v = t.select(0, 2);
        if (rotary != null) {
            Tensor[] qk = rotary.apply(pos, q, k); // one pair of tables for both
            q = qk[0];
            k = qk[1];
        }
        return new Tensor[] {q, k, v};
    }

    /** q, k, v as [B, H, L, P] from x [B, L, D] whose row r starts at position {@code start[r]}. */
    private Tensor[] qkvPerRow(Tensor x, int[] start) {
        int b = x.size(0), l = x.size(1);
        boolean same = true;
        for (int s : start) same &= s == start[0];
        if (same || rotary == null) return qkv(x, RotaryEmbedding.positions(start[0], l));
        Tensor t = wqkv.forward(x).reshape(b, l, 3, heads, headDim).permute(2, 3, 0, 1, 4); // [3, H, B, L, P]
        int[] pos = new int[b * l];
        for (int r = 0; r < b; r++) for (int i = 0; i < l; i++) pos[r * l + i] = start[r] + i;
        // The rows side by side along the length axis, [1, H, B·L, P], rotate with one table of everyone's positions.
        Tensor q = t.select(0, 0).reshape(1, heads, b * l, headDim), k = t.select(0, 1).reshape(1, heads, b * l, headDim);
        Tensor[] qk = rotary.apply(pos, q, k);
        Tensor qr = qk[0].reshape(heads, b, l, headDim).permute(1, 0, 2, 3), kr = qk[1].reshape(heads, b, l, headDim).permute(1, 0, 2, 3);
        return new Tensor[] {qr, kr, t.select(0, 2).permute(1, 0, 2, 3)};
    }

    /**
     * x [B, L, D] → [B, L, D]; with {@code cuSeqlens} (the same packing in every row) a query attends only to its
     * own document and rotary positions restart at 0 at each document start, as if each document ran alone.
     */
    @Override
    public Tensor forward(Tensor x, int[] cuSeqlens) {
        checkInput(x);
        int l = x.size(1);
        int[] pos = cuSeqlens == null ? RotaryEmbedding.positions(0, l) : RotaryEmbedding.positions(cuSeqlens, l);
        Tensor[] t = qkv(x, pos);
        Tensor o = attend(t[0], t[1], t[2], options(cuSeqlens)); // [B, H, L, P]
        return outProj.forward(o.permute(0, 2, 1, 3).reshape(x.size(0), x.size(1), heads * headDim));
    }

    /**
     * Flash attention; inside a BF16 {@link Autocast} region on a GPU it reads BF16 copies of F32 q, k, v when the
     * tensor-core kernel takes them (as the products around it) and returns F32, the casts recorded so gradients stay
     * F32. Head dims and options that kernel does not take run in F32 (see {@link FlashAttention#tensorCoresTakeBf16}).
     */
    private static Tensor attend(Tensor q, Tensor k, Tensor v, AttentionOptions options) {
        if (Autocast.active() && q.dtype() == DType.F32 && FlashAttention.tensorCoresTakeBf16(q, k, v, options)) {
            return FlashAttention.apply(q.to(DType.BF16), k.to(DType.BF16), v.to(DType.BF16), options).to(DType.F32);
        }
        return FlashAttention.apply(q, k, v, options);
    }

    /** Frees the parameters and the rotary embedding's cached tables. */
    @Override
    public void close() {
        super.close();
        if (rotary != null) rotary.close();
    }

    private void checkInput(Tensor x) {
        if (x.dim() != 3 || x.size(2) != heads * headDim) {
            throw new IllegalArgumentException("attention: input must be [B, L, " + heads * headDim + "], got " + java.util.Arrays.toString(x.shape()));
        }
    }

    /** The key/value cache of a decoding batch; a row's next position is the number of positions it holds. */
    static final class State implements DecodeState {
        final KvCache cache;

        State(KvCache cache) { this.cache = cache; }

        @Override public void close() { cache.close(); }
    }

    @Override
    public DecodeState newState(int batch, int maxLength) {
        return new State(KvCache.create(batch, heads, maxLength, headDim, dtype(), device()));
    }

    @Override
    public Tensor prefill(Tensor x, DecodeState state, int row) {
        checkInput(x);
        State st = (State) state;
        int batch = st.cache.lengths().length;
        if (x.size(0) != 1) throw new IllegalArgumentException("attention prefill: one sequence [1, L, " + heads * headDim + "], got " + java.util.Arrays.toString(x.shape()));
        java.util.Objects.checkIndex(row, batch);
        if (x.size(1) > st.cache.capacity()) {
            throw new IllegalArgumentException("attention prefill: " + x.size(1) + " positions exceed the cache's capacity " + st.cache.capacity());
        }
        try (Grad.Region g = Grad.noGrad()) {
            Tensor[] t = qkv(x, RotaryEmbedding.positions(0, x.size(1)));
            st.cache.reset(row);
            st.cache.append(t[1], t[2], RowSubset.of(batch, row));
            Tensor o = attend(t[0], t[1], t[2], options());
            return outProj.forward(o.permute(0, 2, 1, 3).reshape(1, x.size(1), heads * headDim));
        }
    }

    @Override
    public Tensor step(Tensor x, DecodeState state, RowSubset rows) {
        checkInput(x);
        State st = (State) state;
        if (rows.batch() != st.cache.lengths().length || rows.size() != x.size(0) || rows.isEmpty()) {
            throw new IllegalArgumentException("attention step: " + x.size(0) + " inputs for " + rows + " of a cache of " + st.cache.lengths().length
                    + " rows (at least one row steps)");
        }
        try (Grad.Region g = Grad.noGrad()) {
            int[] start = new int[rows.size()];
            for (int j = 0; j < start.length; j++) start[j] = st.cache.length(rows.row(j));
            Tensor[] t = qkvPerRow(x, start);
            st.cache.append(t[1], t[2], rows);
            Tensor o = st.cache.attend(t[0], options(), rows);
            return outProj.forward(o.permute(0, 2, 1, 3).reshape(x.size(0), x.size(1), heads * headDim));
        }
    }
}
