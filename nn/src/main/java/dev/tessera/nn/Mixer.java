package dev.tessera.nn;

import dev.tessera.runtime.RowSubset;
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
    default Tensor step(Tensor x, DecodeState state) { return step(x, state, RowSubset.all(x.size(0))); }

    /**
     * One position of some rows of the state's batch: x [n, 1, D] holds the next position of each row of
     * {@code rows} (n of them, in order) → [n, 1, D]; only those rows advance. Rows may thus stand at different
     * positions (the inner network of an H-Net steps only the rows whose byte closed a chunk); each row's output
     * still equals {@link #forward} over that row's own positions.
     */
    Tensor step(Tensor x, DecodeState state, RowSubset rows);

    /**
     * Reads a whole sequence at once: the full-sequence forward of one sequence x [1, L, D] that also leaves row
     * {@code row} of {@code state} as stepping those L positions from a fresh row would, whatever the row held before
     * (it starts over); decoding then continues after them. A prompt costs one parallel pass instead of L steps.
     */
    Tensor prefill(Tensor x, DecodeState state, int row);

    /** The per-layer state that decoding carries from one position to the next. */
    interface DecodeState extends AutoCloseable {
        @Override void close();
    }
}
