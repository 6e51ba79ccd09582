package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** The rotary tables of positions 0..L−1 are cached: reused for any shorter L, grown for a longer one, freed on close. */
class RotaryEmbeddingTest {
    @Test
    void cachedTablesFollowThePositions() {
        Generator g = new Generator(3);
        try (Scope s = Scope.open(); RotaryEmbedding cached = new RotaryEmbedding(8, 10000)) {
            Tensor x = Tensor.randn(g, 2, 3, 5, 12);
            int[] p1 = RotaryEmbedding.positions(0, 5), p2 = RotaryEmbedding.positions(7, 5);
            float[] first = cached.apply(x, p1).toFloatArray();
            assertArrayEquals(first, cached.apply(x, p1).toFloatArray(), "the same positions again");
            for (int[] p : new int[][] {p2, p1, RotaryEmbedding.positions(new int[] {0, 2, 5}, 5)}) {
                try (RotaryEmbedding fresh = new RotaryEmbedding(8, 10000)) {
                    assertArrayEquals(fresh.apply(x, p).toFloatArray(), cached.apply(x, p).toFloatArray(), "positions from " + p[0]);
                }
            }
            for (int start : new int[] {0, 1, 1023, 2047}) { // decoding steps read one row, growing the tables past 1,024
                Tensor x1 = Tensor.randn(g, 1, 2, 1, 8);
                Tensor[] direct = cached.tables(new int[] {start}); // built for that position alone, not cached
                assertArrayEquals(dev.tessera.kernels.rotary.Rotary.apply(x1, direct[0], direct[1]).toFloatArray(),
                        cached.apply(x1, new int[] {start}).toFloatArray(), "position " + start);
            }
            for (int l : new int[] {3, 1500, 5}) { // shorter windows read a prefix; a longer one grows the tables
                Tensor xl = Tensor.randn(g, 1, 2, l, 8);
                try (RotaryEmbedding fresh = new RotaryEmbedding(8, 10000)) {
                    assertArrayEquals(fresh.apply(xl, RotaryEmbedding.positions(0, l)).toFloatArray(),
                            cached.apply(xl, RotaryEmbedding.positions(0, l)).toFloatArray(), "length " + l);
                }
            }
            cached.close();
            assertArrayEquals(first, cached.apply(x, p1).toFloatArray(), "rebuilt after close");
        }
    }

    @Test
    void closingTheAttentionModuleFreesItsTables() {
        long before = MemoryStats.cpuLiveBytes();
        try (CausalSelfAttention a = new CausalSelfAttention(16, 2, 4, -1, new Generator(1))) {
            try (Scope s = Scope.open()) {
                a.forward(Tensor.randn(new Generator(2), 1, 6, 16), null);
            }
        }
        assertEquals(before, MemoryStats.cpuLiveBytes(), "parameters and cached rotary tables released");
    }
}
