package dev.tessera.models;

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
