package dev.tessera.models.cli;

import dev.tessera.models.BoundaryPlacement;
import dev.tessera.models.ByteLanguageModel;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The chunk boundaries a model draws on a text, per stage, mapped back to byte positions: stage s's boundary at
 * chunk k of stage s−1 is a boundary at the first byte of that chunk. The model reads BOS and then the text, as in
 * training; the BOS position (always a boundary) is not shown.
 */
final class BoundaryMarks {
    private final byte[] text;
    private final boolean[][] marks; // [stage][byte]

    private BoundaryMarks(byte[] text, boolean[][] marks) {
        this.text = text;
        this.marks = marks;
    }

    static BoundaryMarks of(ByteLanguageModel model, byte[] text) {
        long[] in = new long[text.length + 1];
        in[0] = ByteLanguageModel.BOS;
        for (int i = 0; i < text.length; i++) in[i + 1] = text[i] & 0xFF;
        boolean[][] marks = new boolean[model.stages()][text.length];
        boolean wasTraining = model.module().isTraining();
        model.module().eval();
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            ByteLanguageModel.Prediction p = model.forward(Tensor.of(in, 1, in.length));
            int[] positions = new int[in.length]; // input position of each element of the current stage's sequence
            for (int i = 0; i < positions.length; i++) positions[i] = i;
            for (int st = 0; st < model.stages(); st++) {
                float[] b = p.boundaries().get(st).select(0, 0).to(dev.tessera.runtime.DType.F32).toFloatArray();
                int n = Math.min(b.length, positions.length), kept = 0;
                int[] next = new int[n];
                for (int k = 0; k < n; k++) {
                    if (b[k] <= 0.5f) continue;
                    next[kept++] = positions[k];
                    if (positions[k] > 0) marks[st][positions[k] - 1] = true;
                }
                positions = java.util.Arrays.copyOf(next, kept);
            }
        } finally {
            model.module().train(wasTraining);
        }
        return new BoundaryMarks(text, marks);
    }

    int stages() { return marks.length; }

    /** The text with '|' before every byte that starts a chunk at {@code stage}. */
    String render(int stage) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < text.length; i++) {
            if (marks[stage][i]) out.write('|');
            out.write(text[i]);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Mean bytes per chunk of each stage on this text. */
    double[] bytesPerChunk() {
        double[] out = new double[marks.length];
        for (int st = 0; st < marks.length; st++) {
            int n = 1; // the chunk that BOS opens
            for (boolean m : marks[st]) if (m) n++;
            out[st] = (text.length + 1.0) / n;
        }
        return out;
    }

    /** "boundaries at spaces or word starts 41.2 % (stage 0) (all positions: 37.3 %)", or null without stages. */
    static String placementLine(BoundaryPlacement p) {
        if (p == null || p.stages() == 0) return null;
        StringBuilder sb = new StringBuilder("boundaries at spaces or word starts ");
        for (int st = 0; st < p.stages(); st++) {
            sb.append(st == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f %% (stage %d)", 100 * p.shareAtWordStarts(st), st));
        }
        return sb.append(String.format(Locale.ROOT, " (all positions: %.1f %%)", 100 * p.baseRate())).toString();
    }

    /**
     * Per stage, "stage 0 boundaries by place: whitespace 6.8 % (18.1 % of positions), 1st byte 18.2 % (18.4 %), ...":
     * where in words the boundaries fall, each share beside the share of all positions there.
     */
    static List<String> placeLines(BoundaryPlacement p) {
        List<String> lines = new ArrayList<>();
        if (p == null) return lines;
        for (int st = 0; st < p.stages(); st++) {
            StringBuilder sb = new StringBuilder("stage " + st + " boundaries by place:");
            for (BoundaryPlacement.Place place : BoundaryPlacement.Place.values()) {
                sb.append(place.ordinal() == 0 ? " " : ", ").append(String.format(Locale.ROOT, "%s %.1f %% (%.1f %%%s)", place.label(),
                        100 * p.shareAt(st, place), 100 * p.baseRateAt(place), place.ordinal() == 0 ? " of positions" : ""));
            }
            lines.add(sb.toString());
        }
        return lines;
    }

    static String format(double[] perStage) {
        StringBuilder sb = new StringBuilder();
        for (int st = 0; st < perStage.length; st++) sb.append(st == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f (stage %d)", perStage[st], st));
        return sb.toString();
    }

    /** The text's bytes. */
    byte[] text() { return text; }

    /** Whether byte i starts a chunk at stage s: {@code marks()[s][i]}. */
    boolean[][] marks() { return marks; }
}
