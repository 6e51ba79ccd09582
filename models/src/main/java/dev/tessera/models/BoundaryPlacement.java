package dev.tessera.models;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * Where learned chunk boundaries fall relative to words: the share of boundaries at a whitespace byte or at the first
 * byte after one (a word start), against the share of all positions that are such places (the rate a router that
 * ignored the text would get). Position 0 is left out: it starts a chunk by construction. Boundaries of an inner
 * stage sit on the outer stage's chunks and are counted at the byte that starts their chunk.
 */
public final class BoundaryPlacement {
    private final long[] boundaries, atWordStarts;
    private long positions, wordStartPositions;

    /** Counts for {@code stages} routing stages, outermost first. */
    public BoundaryPlacement(int stages) {
        boundaries = new long[stages];
        atWordStarts = new long[stages];
    }

    /** Whitespace as a word separator: space, tab, newline, carriage return, form feed, vertical tab. */
    public static boolean isWhitespace(long b) { return b == ' ' || (b >= '\t' && b <= '\r'); }

    /** A boundary here would separate words: the byte is whitespace or follows whitespace. */
    static boolean atWordStart(long[] bytes, int at) { return isWhitespace(bytes[at]) || at > 0 && isWhitespace(bytes[at - 1]); }

    /**
     * Adds one batch: {@code bytes} [B, L] as the model read them (I64), {@code stageBoundaries} the decisions of each
     * stage, outermost first ([B, L] for stage 0, [B, L_s] for stage s, rows longer than their chunk count padded).
     */
    public void add(Tensor bytes, List<Tensor> stageBoundaries) {
        if (stageBoundaries.size() != boundaries.length) {
            throw new IllegalArgumentException("BoundaryPlacement: " + boundaries.length + " stages expected, got " + stageBoundaries.size());
        }
        int b = bytes.size(0), l = bytes.size(1);
        long[] all = bytes.toLongArray();
        float[][] dec = new float[boundaries.length][];
        for (int s = 0; s < dec.length; s++) dec[s] = stageBoundaries.get(s).to(DType.F32).contiguous().toFloatArray();
        for (int r = 0; r < b; r++) {
            long[] row = new long[l];
            System.arraycopy(all, r * l, row, 0, l);
            for (int t = 1; t < l; t++) {
                positions++;
                if (atWordStart(row, t)) wordStartPositions++;
            }
            int[] at = new int[l]; // byte position of each of the current stage's positions
            int count = l;
            for (int t = 0; t < l; t++) at[t] = t;
            for (int s = 0; s < dec.length; s++) {
                int width = stageBoundaries.get(s).size(1);
                int next = 0;
                for (int j = 0; j < Math.min(count, width); j++) {
                    if (dec[s][r * width + j] <= 0.5f) continue;
                    int pos = at[j];
                    at[next++] = pos;
                    if (pos == 0) continue;
                    boundaries[s]++;
                    if (atWordStart(row, pos)) atWordStarts[s]++;
                }
                count = next;
            }
        }
    }

    /** Share of stage {@code s}'s boundaries (after position 0) at whitespace or a word start; NaN with none. */
    public double shareAtWordStarts(int s) { return boundaries[s] == 0 ? Double.NaN : (double) atWordStarts[s] / boundaries[s]; }

    /** Share of all positions (after position 0) at whitespace or a word start. */
    public double baseRate() { return positions == 0 ? Double.NaN : (double) wordStartPositions / positions; }

    public int stages() { return boundaries.length; }
}
