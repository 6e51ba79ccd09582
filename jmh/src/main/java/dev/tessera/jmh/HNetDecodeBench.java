package dev.tessera.jmh;

import dev.tessera.models.hnet.HNet;
import dev.tessera.models.hnet.HNetConfig;
import dev.tessera.models.hnet.HNetLM;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Byte-by-byte decoding of {@code hnet-tiny} (untrained; its identity-initialised router already puts boundaries
 * at different places in different rows, so at each step the inner network runs for a changing subset of the
 * rows): {@code tessera} decodes B rows of text as one batch, {@code rowByRow} decodes the same rows one after
 * another, each with a decoder of batch 1 (as the reference implementation must). Both step every byte of every
 * row, so the ratio is what batching buys.
 */
public class HNetDecodeBench extends JmhDefaults {
    @Param({"8"})
    public int batch;
    @Param({"64"})
    public int length;

    private static final String TEXT = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
            + "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the "
            + "season of Darkness, it was the spring of hope, it was the winter of despair. public static void main(String[] args)";

    private HNetLM model;
    private long[][] columns; // [length][batch]: the byte of each row at each position

    @Setup
    public void setup() {
        model = new HNetLM(HNetConfig.preset("hnet-tiny"), new Generator(1));
        model.eval();
        byte[] text = TEXT.getBytes(StandardCharsets.US_ASCII);
        columns = new long[length][batch];
        for (int r = 0; r < batch; r++) {
            int start = (r * 37) % (text.length - length); // each row a different stretch of the text
            for (int t = 0; t < length; t++) columns[t][r] = text[start + t];
        }
    }

    @TearDown
    public void tearDown() { model.close(); }

    @Benchmark
    public double tessera() {
        double sum = 0;
        try (HNet.StageState st = model.newDecodeState(batch, length)) {
            for (long[] col : columns) {
                try (Scope s = Scope.open()) {
                    sum += model.step(Tensor.of(col, batch), st).get(0, 0);
                }
            }
        }
        return sum;
    }

    @Benchmark
    public double rowByRow() {
        double sum = 0;
        for (int r = 0; r < batch; r++) {
            try (HNet.StageState st = model.newDecodeState(1, length)) {
                for (long[] col : columns) {
                    try (Scope s = Scope.open()) {
                        sum += model.step(Tensor.of(new long[] {col[r]}, 1), st).get(0, 0);
                    }
                }
            }
        }
        return sum;
    }
}
