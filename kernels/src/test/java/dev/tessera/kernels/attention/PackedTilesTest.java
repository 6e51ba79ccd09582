package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.againstReference;
import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Tiles that start at each packed document, and the backward's one-pass and two-pass forms: documents longer and
 * shorter than a tile (and empty ones) against the float64 reference, and both backward forms to the bit.
 */
class PackedTilesTest {
    /** Documents of 150, 0, 64, 65, 1 and 129 positions: several tiles, exactly one, one and a row, a lone row. */
    private static final int[] CU = {0, 150, 150, 214, 279, 280, 409};

    @Test
    void tilesStartAtEachDocumentAndNeverSpanTwo() {
        try (Scope s = Scope.open()) {
            int L = CU[CU.length - 1];
            Tensor q = randn(1, 1, 1, L, 8);
            Geometry packed = Geometry.of(q, q, q, AttentionOptions.builder().causal(true).cuSeqlens(CU).build());
            assertArrayEquals(new int[] {0, 64, 128, 150, 214, 278, 279, 280, 344, 408, 409}, packed.tileStarts(L, 64));
            assertArrayEquals(new int[] {0, 100, 150, 214, 279, 280, 380, 409}, packed.tileStarts(L, 100));
            Geometry plain = Geometry.of(q, q, q, AttentionOptions.builder().causal(true).build());
            assertArrayEquals(new int[] {0, 64, 128, 192, 256, 320, 384, 409}, plain.tileStarts(L, 64));
            assertArrayEquals(new int[] {0, 409}, plain.tileStarts(L, 409));
        }
    }

    @Test
    void packedDocumentsAcrossTilesMatchTheReference() {
        int L = CU[CU.length - 1];
        for (AttentionOptions.Builder o : new AttentionOptions.Builder[] {
                AttentionOptions.builder().causal(true), AttentionOptions.builder(), AttentionOptions.builder().causal(true).window(40)}) {
            try (Scope s = Scope.open()) {
                // grouped queries: 4 query heads on 2 key/value heads, the head dimension of hnet-tiny's main network
                againstReference("packed " + o.build(), randn(21, 1, 4, L, 24), randn(22, 1, 2, L, 24), randn(23, 1, 2, L, 24),
                        o.cuSeqlens(CU).build());
            }
        }
        try (Scope s = Scope.open()) {
            againstReference("packed + key bias", randn(24, 1, 2, L, 16), randn(25, 1, 2, L, 16), randn(26, 1, 2, L, 16),
                    AttentionOptions.builder().causal(true).cuSeqlens(CU).keyBias(randn(27, 1, 2, L)).build());
        }
    }

    /**
     * The one-pass backward (a task per key/value head) and the two-pass one (a task per key tile, then per query tile)
     * add each gradient's terms in the same order; with key bias, existence and grouped queries, over packed documents
     * and over plain rows.
     */
    @Test
    void oneAndTwoPassesGiveTheSameBits() {
        int L = CU[CU.length - 1];
        try (Scope s = Scope.open()) {
            Tensor lp = ProbabilisticAttentionTest.logp(31, 2, L, 300);
            AttentionOptions[] cases = {
                AttentionOptions.builder().causal(true).cuSeqlens(CU).build(),
                AttentionOptions.builder().causal(true).window(70).keyBias(randn(32, 2, 4, L)).build(),
                AttentionOptions.builder().existence(lp).keyBias(randn(33, 2, L)).build(),
            };
            for (AttentionOptions o : cases) {
                int batch = o.cuSeqlens() != null ? 1 : 2;
                Tensor q = randn(34, batch, 4, L, 24), k = randn(35, batch, 2, L, 24), v = randn(36, batch, 2, L, 24);
                Geometry g = Geometry.of(q, k, v, o);
                AttentionTiles t = new AttentionTiles(g, q, k, v, o.keyBias(), o.logpQ(), o.logpK());
                float[][] out = new float[g.batch * g.qHeads][g.qLen * g.headDim], lse = new float[g.batch * g.qHeads][g.qLen];
                FlashForwardCpu.run(t, out, lse);
                float[][] dOut = AttentionTiles.read(randn(37, batch, 4, L, 24), g.batch * g.qHeads, g.qLen * g.headDim, 0);
                FlashBackwardCpu.Result one = FlashBackwardCpu.run(t, out, lse, dOut, true);
                FlashBackwardCpu.Result two = FlashBackwardCpu.run(t, out, lse, dOut, false);
                String name = o.toString();
                assertSameBits(name + " dq", one.dq, two.dq);
                assertSameBits(name + " dk", one.dk, two.dk);
                assertSameBits(name + " dv", one.dv, two.dv);
                assertSameBits(name + " key bias sums", one.colSum, two.colSum);
                assertSameBits(name + " existence sums past the key", one.colSumAfter, two.colSumAfter);
                assertSameBits(name + " existence sums past the query", one.rowSumAfter, two.rowSumAfter);
            }
        }
    }

    private static void assertSameBits(String what, float[][] a, float[][] b) {
        assertEquals(a == null, b == null, what);
        if (a == null) return;
        for (int i = 0; i < a.length; i++) assertArrayEquals(a[i], b[i], 0f, what + " slice " + i);
    }
}
