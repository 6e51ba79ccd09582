package dev.tessera.models.cli;

import dev.tessera.models.BoundaryPlacement;
import dev.tessera.models.ByteLanguageModel;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The chunk boundaries a model draws on a text, per stage, mapped back to byte positions: stage s's boundary at
 * chunk k of stage s−1 is a boundary at the first byte of that chunk. The model reads BOS and then the text, as in
 * training; the BOS position (always a boundary) is not shown.
 */
final class BoundaryMarks {
    private static final Color[] STAGE_COLOURS = {new Color(0xD62728), new Color(0x1F77B4), new Color(0x2CA02C), new Color(0x9467BD)};

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

    static String format(double[] perStage) {
        StringBuilder sb = new StringBuilder();
        for (int st = 0; st < perStage.length; st++) sb.append(st == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f (stage %d)", perStage[st], st));
        return sb.toString();
    }

    /**
     * Writes the text as a monospaced grid, one panel per stage, with a coloured bar before each chunk's first
     * character; newlines are drawn as '↵' and end the row, long rows wrap at {@code columns}.
     */
    void writePng(Path file, int columns) {
        String[] chars = new String[text.length];
        int[] startOf = new int[text.length];
        int count = 0;
        for (int i = 0; i < text.length; ) {
            int len = utf8Length(text[i]);
            len = Math.min(len, text.length - i);
            String c = new String(text, i, len, StandardCharsets.UTF_8);
            if (c.equals("\n")) c = "\u21B5";
            else if (c.equals("\t")) c = "\u2192";
            chars[count] = c;
            startOf[count++] = i;
            i += len;
        }
        Font font = new Font(Font.MONOSPACED, Font.PLAIN, 16);
        int cellW = 11, cellH = 24, pad = 12, titleH = 22;
        int rows = 0, col = 0;
        for (int k = 0; k < count; k++) {
            col++;
            if (col >= columns || chars[k].equals("\u21B5")) { rows++; col = 0; }
        }
        rows++;
        int panelH = titleH + rows * cellH + pad;
        int width = 2 * pad + columns * cellW, height = pad + Math.max(1, marks.length) * panelH;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setFont(font);
            FontMetrics fm = g.getFontMetrics();
            for (int st = 0; st < Math.max(1, marks.length); st++) {
                int top = pad + st * panelH;
                Color colour = STAGE_COLOURS[st % STAGE_COLOURS.length];
                g.setColor(colour);
                g.drawString(marks.length == 0 ? "no routing stages" : "stage " + st, pad, top + fm.getAscent());
                int row = 0;
                col = 0;
                for (int k = 0; k < count; k++) {
                    int x = pad + col * cellW, y = top + titleH + row * cellH;
                    boolean boundary = false;
                    if (marks.length > 0) {
                        int end = k + 1 < count ? startOf[k + 1] : text.length;
                        for (int i = startOf[k]; i < end; i++) boundary |= marks[st][i];
                    }
                    if (boundary) {
                        g.setColor(colour);
                        g.setStroke(new BasicStroke(2f));
                        g.drawLine(x, y + 2, x, y + cellH - 2);
                    }
                    g.setColor(chars[k].length() == 1 && chars[k].charAt(0) < 0x20 ? Color.GRAY : Color.BLACK);
                    g.drawString(chars[k], x + 1, y + fm.getAscent() + 2);
                    col++;
                    if (col >= columns || chars[k].equals("\u21B5")) { row++; col = 0; }
                }
            }
        } finally {
            g.dispose();
        }
        try {
            ImageIO.write(img, "png", file.toFile());
        } catch (IOException e) {
            throw new CliFailure("cannot write " + file + ": " + e.getMessage());
        }
    }

    private static int utf8Length(byte lead) {
        int b = lead & 0xFF;
        if (b >= 0xF0 && b < 0xF8) return 4;
        if (b >= 0xE0) return b < 0xF0 ? 3 : 1;
        if (b >= 0xC0) return 2;
        return 1;
    }
}
