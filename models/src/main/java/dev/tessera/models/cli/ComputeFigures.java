package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.nn.ForwardFlops;
import java.util.Locale;

/** A model's forward compute at the chunking a run measured, and the line the commands print of it. */
final class ComputeFigures {
    private ComputeFigures() {}

    /**
     * The forward's compute over {@code length} bytes at the chunking measured ({@code bytesPerChunk}), or null where a
     * stage's figure is not a number (a dry run computes none).
     */
    static ForwardFlops atChunking(ByteLanguageModel m, int length, double[] bytesPerChunk) {
        for (double v : bytesPerChunk) if (!Double.isFinite(v)) return null;
        return m.forwardFlops(length, bytesPerChunk);
    }

    /**
     * "forward compute 0.437 MFLOP per byte (matrix products 0.358, attention 0.012, convolutions 0.008, scans 0.059)":
     * {@code f} over a window of {@code length} bytes, per byte; null (from {@link #atChunking}) says it is unknown.
     */
    static String line(ForwardFlops f, int length) {
        if (f == null) return "forward compute unknown: no bytes per chunk were measured";
        double mega = 1e6 * length;
        return String.format(Locale.ROOT, "forward compute %.3f MFLOP per byte (matrix products %.3f, attention %.3f, convolutions %.3f, scans %.3f)",
                f.total() / mega, f.matmul() / mega, f.attention() / mega, f.convolution() / mega, f.scan() / mega);
    }
}
