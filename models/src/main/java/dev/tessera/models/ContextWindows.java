package dev.tessera.models;

import dev.tessera.nn.ByteCorpus;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * How a window of corpus bytes becomes a training example. The model always reads {@link ByteLanguageModel#BOS}
 * first and then the bytes, and predicts each byte from those before it: inputs = [BOS, w₀ … w_{L−2}], targets =
 * [w₀ … w_{L−1}]. Generation does the same (BOS, then the prompt), so the first byte the model is ever asked to
 * predict is conditioned exactly as in training, and held-out bits per byte count every byte of a window.
 */
public final class ContextWindows {
    private ContextWindows() {}

    /** Inputs and targets for windows sampled by {@link ByteCorpus#sample} (its targets are the window's bytes). */
    public static ByteCorpus.Batch fromSample(ByteCorpus.Batch sample) {
        int b = sample.inputs().size(0), l = sample.inputs().size(1);
        long[] in = sample.inputs().toLongArray();
        long[] inputs = new long[b * l];
        for (int r = 0; r < b; r++) {
            inputs[r * l] = ByteLanguageModel.BOS;
            System.arraycopy(in, r * l, inputs, r * l + 1, l - 1);
        }
        return new ByteCorpus.Batch(Tensor.of(inputs, b, l), sample.inputs().clone());
    }

    /** Inputs and targets for equal-length windows of bytes. */
    public static ByteCorpus.Batch of(List<byte[]> windows) {
        int b = windows.size(), l = windows.get(0).length;
        long[] inputs = new long[b * l], targets = new long[b * l];
        for (int r = 0; r < b; r++) {
            byte[] w = windows.get(r);
            if (w.length != l) throw new IllegalArgumentException("windows must have equal lengths: " + l + " and " + w.length);
            inputs[r * l] = ByteLanguageModel.BOS;
            for (int t = 0; t < l; t++) {
                targets[r * l + t] = w[t] & 0xFF;
                if (t + 1 < l) inputs[r * l + t + 1] = w[t] & 0xFF;
            }
        }
        return new ByteCorpus.Batch(Tensor.of(inputs, b, l), Tensor.of(targets, b, l));
    }
}
