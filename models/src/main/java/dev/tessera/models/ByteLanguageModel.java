package dev.tessera.models;

import dev.tessera.nn.ForwardFlops;
import dev.tessera.nn.Module;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * What the command line needs of a byte-level language model, so that training, evaluation, sampling and the
 * matched-compute comparison treat H-Net and the isotropic baselines alike. Bytes are 0..255 in I64 tensors
 * [B, L]; {@link #BOS} and {@link #EOS} follow hnet.md §1.1.
 */
public interface ByteLanguageModel extends AutoCloseable {
    /** Beginning of sequence: the model reads it before the first byte of its context. */
    int BOS = 254;
    /** End of sequence: generation stops when it is sampled. */
    int EOS = 255;

    /** The parameters, under the names a checkpoint stores. */
    Module module();

    /** "hnet" or "isotropic": which config format {@link #configJson()} is in. */
    String family();

    /** The model's configuration as JSON; {@link ModelCatalog#fromConfig} rebuilds the model from it. */
    String configJson();

    /** Number of routing stages (0 for a model without dynamic chunking). */
    int stages();

    /** Logits [B, L, 256] and, per routing stage (outermost first), the boundary probabilities and decisions [B, L_s]. */
    record Prediction(Tensor logits, List<Tensor> boundaryProbs, List<Tensor> boundaries) {}

    Prediction forward(Tensor bytes);

    /**
     * The training loss: {@code total} backpropagates (cross entropy plus any auxiliary loss), {@code crossEntropy}
     * is the next-byte loss in nats, {@code bytesPerChunk} the bytes per chunk of each stage.
     */
    record TrainingLoss(Tensor total, Tensor crossEntropy, double[] bytesPerChunk) {}

    TrainingLoss loss(Tensor inputs, Tensor targets);

    /** Parameter groups with the model's learning-rate multipliers (one group for a model without stages). */
    List<Optimizer.Group> parameterGroups();

    default long parameterCount() { return module().parameterCount(); }

    /**
     * The forward's floating-point operations over one window of {@code length} bytes ({@link ForwardFlops}), each
     * routing stage's chunks holding {@code bytesPerChunk[s]} bytes on average (as {@link TrainingLoss} and the
     * held-out evaluation measure them; ignored by a model without stages). Divided by {@code length}: the compute
     * per byte that matched-compute comparisons equalise.
     */
    default ForwardFlops forwardFlops(int length, double[] bytesPerChunk) { return module().forwardFlops(length); }

    /** Moves the parameters to {@code device} (before any optimizer is made); returns this model. */
    default ByteLanguageModel onDevice(dev.tessera.runtime.Device device) {
        module().to(device);
        return this;
    }

    /** Byte-by-byte decoding of a batch: each {@link #step} consumes one byte per row and returns the next logits. */
    interface Decoder extends AutoCloseable {
        /** bytes [B] (I64) → next-byte logits [B, 256]. */
        Tensor step(Tensor bytes);

        /**
         * Reads each row's first bytes at once ({@code rows[r]}, at least one byte each; every row starts over) with
         * the model's parallel forward, a row at a time, and returns each row's next-byte logits after them, [B, 256];
         * {@link #step} then goes on from there. The same logits as stepping the bytes one by one, at the cost of one
         * parallel pass per row instead of one step per byte.
         */
        Tensor prefill(long[][] rows);

        @Override void close();
    }

    /**
     * {@link Decoder#prefill} from a per-row parallel read {@code (row, bytes [L]) → logits [L, 256]}: checks one
     * row of 1 to {@code maxLength} bytes per decoder row and keeps each row's last logits, [B, 256].
     */
    static Tensor lastLogits(long[][] rows, int batch, int maxLength, java.util.function.BiFunction<Integer, Tensor, Tensor> read) {
        if (rows.length != batch) throw new IllegalArgumentException("prefill: one row of bytes per decoder row (" + batch + "), got " + rows.length);
        for (int r = 0; r < batch; r++) { // all checked before any row is read, so a refusal leaves the decoder as it was
            if (rows[r].length == 0) throw new IllegalArgumentException("prefill: row " + r + " is empty; each row needs at least one byte");
            if (rows[r].length > maxLength) {
                throw new IllegalArgumentException("prefill: row " + r + " has " + rows[r].length + " bytes, more than the decoder's " + maxLength);
            }
            for (long v : rows[r]) {
                if (v < 0 || v > 255) throw new IllegalArgumentException("prefill: row " + r + " holds " + v + ", not a byte (0..255)");
            }
        }
        java.util.List<Tensor> last = new java.util.ArrayList<>(batch);
        for (int r = 0; r < batch; r++) {
            Tensor logits = read.apply(r, Tensor.of(rows[r], rows[r].length));
            last.add(logits.narrow(0, rows[r].length - 1, 1));
        }
        return Tensor.cat(last, 0);
    }

    /** A decoder for {@code batch} rows of up to {@code maxLength} bytes; its logits equal {@link #forward}'s. */
    Decoder newDecoder(int batch, int maxLength);

    @Override
    default void close() { module().close(); }
}
