package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.nn.ForwardFlops;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Profiler;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A model's counted forward compute ({@link ByteLanguageModel#forwardFlops}) against what its forward multiplies:
 * the matrix products the runtime's profiler counts while the model reads a text, its chunks as the router placed
 * them, equal the count's {@code matmul} part for every preset family; the attention's pair count is checked against
 * enumerating the pairs; and the baselines' presets carry about hnet-tiny's compute per byte, as {@code compare}
 * assumes.
 */
class ForwardFlopsTest {
    private static final byte[] TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
            + "\tpublic static void main(String[] args) { return; }").getBytes(StandardCharsets.US_ASCII);

    @AfterEach
    void off() {
        Profiler.disable();
        Profiler.reset();
    }

    /** The text as one row of bytes [1, L]. */
    private static Tensor row() {
        long[] v = new long[TEXT.length];
        for (int i = 0; i < v.length; i++) v[i] = TEXT[i];
        return Tensor.of(v, 1, v.length);
    }

    @Test
    @SuppressWarnings("try")
    void theMatrixProductsOfAForwardAreTheCountedOnesAtTheRoutedChunks() {
        for (String preset : List.of("hnet-tiny", "hnet-tiny-whitespace", "hnet-2stage-tiny", "transformer-tiny", "mamba-tiny")) {
            try (ByteLanguageModel m = ModelCatalog.create(preset, new Generator(3)); Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                m.module().eval();
                Tensor bytes = row();
                Profiler.reset();
                Profiler.enable();
                ByteLanguageModel.Prediction p = m.forward(bytes);
                Profiler.disable();
                double measured = Profiler.snapshot().get("matmul").flops();
                double[] bytesPerChunk = new double[m.stages()];
                for (int st = 0; st < bytesPerChunk.length; st++) {
                    bytesPerChunk[st] = TEXT.length / p.boundaries().get(st).to(DType.F32).sum().item();
                }
                ForwardFlops counted = m.forwardFlops(TEXT.length, bytesPerChunk);
                assertEquals(measured, counted.matmul(), 1e-9 * measured, preset + " at " + java.util.Arrays.toString(bytesPerChunk) + " bytes per chunk");
                assertTrue(counted.total() > counted.matmul(), preset + ": the convolutions, scans or attention add to the products");
                if (m.stages() > 0) { // fewer chunks, less work inside
                    double[] coarser = bytesPerChunk.clone();
                    for (int st = 0; st < coarser.length; st++) coarser[st] *= 2;
                    assertTrue(m.forwardFlops(TEXT.length, coarser).total() < counted.total(), preset);
                }
            }
        }
    }

    @Test
    void causalPairsCountTheKeysEachQuerySees() {
        for (int window : new int[] {-1, 0, 1, 3, 7, 100}) {
            for (int length = 0; length <= 20; length++) {
                long pairs = 0;
                for (int i = 0; i < length; i++) for (int j = 0; j <= i; j++) if (window < 0 || i - j <= window) pairs++;
                assertEquals(pairs, ForwardFlops.causalPairs(length, window), 0, "length " + length + ", window " + window);
            }
        }
        // between whole lengths it stays between their counts (a mean chunk count)
        double a = ForwardFlops.causalPairs(10, 3), mid = ForwardFlops.causalPairs(10.5, 3), b = ForwardFlops.causalPairs(11, 3);
        assertTrue(a < mid && mid < b, a + " < " + mid + " < " + b);
    }

    @Test
    void anAttentionLayerCountsItsProjectionsAndFourDPerPair() {
        try (dev.tessera.nn.CausalSelfAttention att = new dev.tessera.nn.CausalSelfAttention(32, 4, 8, 5, new Generator(1))) {
            ForwardFlops f = att.forwardFlops(12);
            assertEquals(2.0 * 12 * (32 * 96 + 32 * 32), f.matmul(), 0, "Wqkv and out_proj");
            assertEquals(4.0 * 32 * ForwardFlops.causalPairs(12, 5), f.attention(), 0);
            assertEquals(0, f.convolution() + f.scan(), 0);
        }
        try (dev.tessera.nn.Mamba2 mamba = new dev.tessera.nn.Mamba2(32, 16, 4, 2, 16, 1, new Generator(1))) {
            ForwardFlops f = mamba.forwardFlops(10);
            int dInner = 64, convChannels = dInner + 2 * 16;
            assertEquals(2.0 * 10 * (32 * (2 * dInner + 2 * 16 + 4) + dInner * 32), f.matmul(), 0, "in_proj and out_proj");
            assertEquals(2.0 * 10 * 4 * convChannels, f.convolution(), 0);
            assertEquals(5.0 * 10 * dInner * 16, f.scan(), 0);
            assertEquals(0, f.attention(), 0);
        }
    }

    @Test
    void theBaselinePresetsCarryAboutHnetTinysComputePerByte() {
        int length = 256;
        double hnet;
        try (ByteLanguageModel m = ModelCatalog.create("hnet-tiny", new Generator(1))) {
            hnet = m.forwardFlops(length, new double[] {4}).total() / length;
            assertEquals(hnet, m.module().forwardFlops(length).total() / length, 1e-9 * hnet, "the module's own count takes the target ratio, 4");
        }
        for (String baseline : List.of("transformer-tiny", "mamba-tiny")) {
            try (ByteLanguageModel m = ModelCatalog.create(baseline, new Generator(1))) {
                double perByte = m.forwardFlops(length, new double[0]).total() / length;
                assertEquals(1, perByte / hnet, 0.05, baseline + ": " + perByte + " FLOPs per byte against hnet-tiny's " + hnet);
            }
        }
    }

    @Test
    void aModulesOwnCountTakesTheTargetRatiosStageByStage() {
        try (ByteLanguageModel m = ModelCatalog.create("hnet-2stage-tiny", new Generator(1))) {
            // target ratios 3 and 3: stage 1 sees a third of the bytes, the main network a ninth
            ForwardFlops own = m.module().forwardFlops(180), atTargets = m.forwardFlops(180, new double[] {3, 9});
            assertEquals(atTargets.total(), own.total(), 1e-9 * own.total());
            assertEquals(atTargets.attention(), own.attention(), 1e-9 * own.attention());
            assertTrue(m.forwardFlops(180, new double[] {3, 12}).total() < own.total(), "fewer inner chunks, less work");
        }
    }

    @Test
    void bytesPerChunkMustGrowInward() {
        try (ByteLanguageModel m = ModelCatalog.create("hnet-2stage-tiny", new Generator(1))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forwardFlops(64, new double[] {4, 2}));
            assertTrue(e.getMessage().contains("stage 1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forwardFlops(64, new double[] {4}));
            assertTrue(e.getMessage().contains("one bytes-per-chunk figure per stage (2), got [4.0]"), e.getMessage());
        }
    }
}
