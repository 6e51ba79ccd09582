package dev.tessera.nn;

import dev.tessera.runtime.Tensor;

/** A sequence mixer of a {@link Block}: attention or Mamba-2. Maps [B, L, D] to [B, L, D] causally. */
public interface Mixer {
    /** The full-sequence forward, each batch row one sequence. */
    default Tensor forward(Tensor x) { return forward(x, null); }

    /**
     * The full-sequence forward over packed documents: {@code cuSeqlens} = {0, …, L} (document i spans
     * [cuSeqlens[i], cuSeqlens[i+1])) and no position sees an earlier document, so the result equals running each
     * document alone. {@code null} means no packing (then it is {@link #forward(Tensor)}).
     */
    Tensor forward(Tensor x, int[] cuSeqlens);

    /** Fresh decoding state for {@code batch} sequences of up to {@code maxLength} positions. */
    DecodeState newState(int batch, int maxLength);

    /** One position x [B, 1, D] → [B, 1, D], advancing {@code state}; equals {@link #forward} at that position. */
    Tensor step(Tensor x, DecodeState state);

    /** The per-layer state that decoding carries from one position to the next. */
    interface DecodeState extends AutoCloseable {
        @Override void close();
    }
}
