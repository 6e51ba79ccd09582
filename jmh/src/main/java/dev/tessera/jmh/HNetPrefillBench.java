package dev.tessera.jmh;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ModelCatalog;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Reading prompts before generation with {@code hnet-tiny} (untrained): {@code tessera} prefills B prompts with
 * the decoder's parallel pass, {@code stepped} feeds the same bytes through the decoder one position at a time
 * (all rows together, as {@code generate} did before). Both leave the decoder in the same state and return the
 * logits after the prompts.
 */
public class HNetPrefillBench extends JmhDefaults {
    @Param({"4"})
    public int batch;
    @Param({"256"})
    public int length;

    private ByteLanguageModel model;
    private long[][] rows;

    @Setup
    public void setup() {
        model = ModelCatalog.create("hnet-tiny", new Generator(1));
        model.module().eval();
        String text = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, ";
        rows = new long[batch][length];
        for (int r = 0; r < batch; r++) {
            for (int t = 0; t < length; t++) rows[r][t] = text.charAt((r * 29 + t) % text.length());
        }
    }

    @TearDown
    public void tearDown() { model.close(); }

    @Benchmark
    public double tessera() {
        try (ByteLanguageModel.Decoder dec = model.newDecoder(batch, length); Scope s = Scope.open()) {
            return dec.prefill(rows).get(0, 0);
        }
    }

    @Benchmark
    public double stepped() {
        double last = 0;
        try (ByteLanguageModel.Decoder dec = model.newDecoder(batch, length)) {
            for (int t = 0; t < length; t++) {
                long[] col = new long[batch];
                for (int r = 0; r < batch; r++) col[r] = rows[r][t];
                try (Scope s = Scope.open()) {
                    last = dec.step(Tensor.of(col, batch)).get(0, 0);
                }
            }
        }
        return last;
    }
}
