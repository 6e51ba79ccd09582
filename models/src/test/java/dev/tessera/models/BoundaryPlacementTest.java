package dev.tessera.models;

import static dev.tessera.models.BoundaryPlacement.Place.FIRST;
import static dev.tessera.models.BoundaryPlacement.Place.LATER;
import static dev.tessera.models.BoundaryPlacement.Place.SECOND;
import static dev.tessera.models.BoundaryPlacement.Place.THIRD;
import static dev.tessera.models.BoundaryPlacement.Place.WHITESPACE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class BoundaryPlacementTest {
    private static Tensor bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        long[] v = new long[b.length];
        for (int i = 0; i < b.length; i++) v[i] = b[i];
        return Tensor.of(v, 1, v.length);
    }

    private static Tensor marks(String pattern) { // '|' = boundary, anything else = none
        float[] v = new float[pattern.length()];
        for (int i = 0; i < v.length; i++) v[i] = pattern.charAt(i) == '|' ? 1 : 0;
        return Tensor.of(v, 1, v.length);
    }

    @Test
    void countsBoundariesAtSpacesAndWordStartsAgainstTheBaseRate() {
        //                 0123456789
        Tensor text = bytes("ab cd\nefg");
        // stage 0 boundaries at 0 (ignored), 2 (space), 3 (word start), 4 (inside a word), 6 (after newline)
        Tensor b0 = marks("| ||| | ..");
        BoundaryPlacement p = new BoundaryPlacement(1);
        p.add(text.narrow(1, 0, 9), List.of(b0.narrow(1, 0, 9)));
        assertEquals(3.0 / 4, p.shareAtWordStarts(0), 1e-12);
        // positions 1..8: space (2), 'c' (3), newline (5), 'e' (6) qualify
        assertEquals(4.0 / 8, p.baseRate(), 1e-12);
    }

    @Test
    void placesCountHowFarIntoItsWordEachByteLies() {
        long[] row = bytes("ab cdefg\n\nh").toLongArray();
        BoundaryPlacement.Place[] p = BoundaryPlacement.places(row);
        // "ab" precedes any whitespace: unknown; then ' ', c d e f g, '\n', '\n', h
        assertArrayEquals(new BoundaryPlacement.Place[] {null, null, WHITESPACE, FIRST, SECOND, THIRD, LATER, LATER, WHITESPACE, WHITESPACE, FIRST}, p);
    }

    @Test
    void sharesByPlaceAgainstThePositionsThere() {
        //                         0123456789
        Tensor text = bytes("xy abc de");
        // boundaries at 0 (ignored), 1 (unknown place: left out), 2 (whitespace), 4 (2nd), 5 (3rd), 7 (1st)
        Tensor b0 = marks("||| ||.|.");
        BoundaryPlacement p = new BoundaryPlacement(1);
        p.add(text, List.of(b0));
        assertEquals(1.0 / 4, p.shareAt(0, WHITESPACE), 1e-12);
        assertEquals(1.0 / 4, p.shareAt(0, FIRST), 1e-12);
        assertEquals(1.0 / 4, p.shareAt(0, SECOND), 1e-12);
        assertEquals(1.0 / 4, p.shareAt(0, THIRD), 1e-12);
        assertEquals(0, p.shareAt(0, LATER), 1e-12);
        // known positions after 0: 2 (ws), 3 (1st), 4 (2nd), 5 (3rd), 6 (ws), 7 (1st), 8 (2nd)
        assertEquals(2.0 / 7, p.baseRateAt(WHITESPACE), 1e-12);
        assertEquals(2.0 / 7, p.baseRateAt(FIRST), 1e-12);
        assertEquals(2.0 / 7, p.baseRateAt(SECOND), 1e-12);
        assertEquals(1.0 / 7, p.baseRateAt(THIRD), 1e-12);
        assertEquals(0, p.baseRateAt(LATER), 1e-12);
        // the coarse share counts the unknown-place boundary at 1 too (not whitespace, no whitespace before it)
        assertEquals(2.0 / 5, p.shareAtWordStarts(0), 1e-12);
        assertTrue(Double.isNaN(new BoundaryPlacement(1).shareAt(0, FIRST)));
    }

    @Test
    void innerStageBoundariesCountAtTheBytesThatStartTheirOuterChunks() {
        Tensor text = bytes("ab cd ef");
        Tensor b0 = marks("|| |  | "); // outer chunks start at bytes 0, 1, 3, 6
        Tensor b1 = Tensor.of(new float[] {1, 0, 1, 1, 0, 0}, 1, 6); // inner chunk starts at outer chunks 0, 2, 3; rest is padding
        BoundaryPlacement p = new BoundaryPlacement(2);
        p.add(text, List.of(b0, b1));
        assertEquals(2.0 / 3, p.shareAtWordStarts(0), 1e-12); // bytes 1 (no), 3 (yes), 6 (yes)
        assertEquals(1.0, p.shareAtWordStarts(1), 1e-12);     // bytes 3 and 6; chunk 0 is byte 0; padding ignored
    }

    @Test
    void noBoundariesGivesNaNAndAWrongStageCountIsRefused() {
        BoundaryPlacement p = new BoundaryPlacement(1);
        p.add(bytes("abc"), List.of(marks("|..")));
        assertTrue(Double.isNaN(p.shareAtWordStarts(0)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.add(bytes("abc"), List.of()));
        assertTrue(e.getMessage().contains("BoundaryPlacement"), e.getMessage());
    }
}
