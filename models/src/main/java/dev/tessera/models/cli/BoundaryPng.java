package dev.tessera.models.cli;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * The PNG of {@link BoundaryMarks}. Apart from them because it needs {@code java.desktop} (AWT), which a jlinked
 * runtime may lack: the text forms of the marks must not load it.
 */
final class BoundaryPng {
    private static final Color[] STAGE_COLOURS = {new Color(0xD62728), new Color(0x1F77B4), new Color(0x2CA02C), new Color(0x9467BD)};

    private BoundaryPng() {}

    /**
     * Writes the text as a monospaced grid, one panel per stage, with a coloured bar before each chunk's first
     * character; newlines are drawn as '↵' and end the row, long rows wrap at {@code columns}.
     */
    static void write(BoundaryMarks m, Path file, int columns) {
        byte[] text = m.text();
        boolean[][] marks = m.marks();
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
