package dev.tessera.models;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * Where learned chunk boundaries fall relative to words: the share of boundaries at a whitespace byte or at the first
 * byte after one (a word start), against the share of all positions that are such places (the rate a router that
 * ignored the text would get). Position 0 is left out: it starts a chunk by construction. Boundaries of an inner
 * stage sit on the outer stage's chunks and are counted at the byte that starts their chunk.
 *
 * <p>Finer, by {@link Place}: whitespace, or how far into its word a byte lies. A router that avoids whitespace and
 * spreads its boundaries evenly through words shows it here, where the single share only says "not at word starts".
 */
public final class BoundaryPlacement {
    /** Where in the text a byte lies: whitespace, or the 1st, 2nd, 3rd or a later byte of a word. */
    public enum Place {
        WHITESPACE("whitespace"), FIRST("1st byte"), SECOND("2nd"), THIRD("3rd"), LATER("later");

        private final String label;

        Place(String label) { this.label = label; }

        public String label() { return label; }
    }

    private static final Place[] PLACES = Place.values();

    private final long[] boundaries, atWordStarts;
    private final long[][] boundariesByPlace;
    private final long[] positionsByPlace = new long[PLACES.length];
    private long positions, wordStartPositions;

    /** Counts for {@code stages} routing stages, outermost first. */
    public BoundaryPlacement(int stages) {
        boundaries = new long[stages];
        atWordStarts = new long[stages];
        boundariesByPlace = new long[stages][PLACES.length];
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
            Place[] place = places(row);
            for (int t = 1; t < l; t++) {
                positions++;
                if (atWordStart(row, t)) wordStartPositions++;
                if (place[t] != null) positionsByPlace[place[t].ordinal()]++;
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
                    if (place[pos] != null) boundariesByPlace[s][place[pos].ordinal()]++;
                }
                count = next;
            }
        }
    }

    /** Share of stage {@code s}'s boundaries (after position 0) at whitespace or a word start; NaN with none. */
    public double shareAtWordStarts(int s) { return boundaries[s] == 0 ? Double.NaN : (double) atWordStarts[s] / boundaries[s]; }

    /**
     * The place of each byte of a row; null for the bytes of the row's first word when no whitespace precedes it
     * (a window that starts inside a word: how far into the word is unknown).
     */
    static Place[] places(long[] row) {
        Place[] out = new Place[row.length];
        int sinceWhitespace = -1; // bytes of the current word seen so far; −1 before the row's first whitespace
        for (int t = 0; t < row.length; t++) {
            if (isWhitespace(row[t])) {
                out[t] = Place.WHITESPACE;
                sinceWhitespace = 0;
            } else if (sinceWhitespace >= 0) {
                out[t] = PLACES[Math.min(Place.FIRST.ordinal() + sinceWhitespace, Place.LATER.ordinal())];
                sinceWhitespace++;
            }
        }
        return out;
    }

    /**
     * Share of stage {@code s}'s boundaries (after position 0, and of a known place) that lie at {@code place}; NaN
     * with none.
     */
    public double shareAt(int s, Place place) {
        long n = 0;
        for (long c : boundariesByPlace[s]) n += c;
        return n == 0 ? Double.NaN : (double) boundariesByPlace[s][place.ordinal()] / n;
    }

    /** Share of all positions (after position 0, and of a known place) that lie at {@code place}. */
    public double baseRateAt(Place place) {
        long n = 0;
        for (long c : positionsByPlace) n += c;
        return n == 0 ? Double.NaN : (double) positionsByPlace[place.ordinal()] / n;
    }

    /** Share of all positions (after position 0) at whitespace or a word start. */
    public double baseRate() { return positions == 0 ? Double.NaN : (double) wordStartPositions / positions; }

    public int stages() { return boundaries.length; }
}
