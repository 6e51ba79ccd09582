package dev.tessera.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * The chunk counts {@link ChunkRouter#chunk} hands on ({@link Chunks#counts()}) stand in for reading b or a mask back:
 * the forms that take them ({@link ChunkRouter#routeChunks}, {@link ChunkRouter#dechunk(Tensor, Chunks, Tensor, Tensor)})
 * must give exactly what the mask and boundary forms give, and refuse chunks they cannot use.
 */
class ChunkCountsTest {
    /** Two stages: route an outer batch, chunk it, route the chunks (a nested stage), chunk and dechunk them. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void countFormsMatchTheMaskAndBoundaryForms(DType dt) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(11);
            Tensor x = Tensor.randn(g, 3, 24, 6).to(dt);
            Routing outer = ChunkRouter.route(Tensor.randn(g, 3, 24, 6).to(dt), Tensor.randn(g, 3, 24, 6).to(dt));
            Chunks ch = ChunkRouter.chunk(x, outer.b());
            long[] perRow = ch.counts();
            assertArrayEquals(ch.lengths().toLongArray(), perRow, "counts are the rows' chunk lengths");
            assertEquals((long) outer.b().to(DType.F64).sum().item(), ch.total());
            perRow[0] = -1;
            assertEquals(ch.lengths().toLongArray()[0], ch.counts()[0], "counts() hands out a copy");
            assertTrue(ch.boundaries() == outer.b());

            Tensor wq = Tensor.randn(g, 6, 6).to(dt), wk = Tensor.randn(g, 6, 6).to(dt), z0 = Tensor.randn(g, 3, ch.x().size(1), 6).to(dt);
            double[][] viaMask = nested(ch, wq, wk, z0, false), viaCounts = nested(ch, wq, wk, z0, true);
            String[] what = {"p", "b", "c", "out", "dq", "dk", "dzhat"};
            for (int i = 0; i < what.length; i++) assertArrayEquals(viaMask[i], viaCounts[i], 0, what[i]);
        }
    }

    /** p, b, c of the nested routing, the dechunked output, and the gradients of the projections and of ẑ. */
    private static double[][] nested(Chunks ch, Tensor wq0, Tensor wk0, Tensor z0, boolean counts) {
        Tensor wq = wq0.detach().requiresGrad(true), wk = wk0.detach().requiresGrad(true), z = z0.detach().requiresGrad(true);
        Tensor q = ch.x().matmul(wq), k = ch.x().matmul(wk);
        Routing r = counts ? ChunkRouter.routeChunks(q, k, ch) : ChunkRouter.route(q, k, ch.mask());
        Chunks inner = ChunkRouter.chunk(z, r.b());
        Tensor zhat = inner.x().tanh();
        Tensor out = counts ? ChunkRouter.dechunk(zhat, inner, r.p(), r.c()) : ChunkRouter.dechunk(zhat, r.p(), r.b(), r.c());
        Tensor proj = Tensor.randn(new Generator(5), out.shape()).to(out.dtype());
        out.mul(proj).sum().add(ChunkRouter.ratioLoss(r.b(), r.p(), 3, ch.mask())).backward();
        return new double[][] {r.p().toDoubleArray(), r.b().toDoubleArray(), r.c().toDoubleArray(), out.toDoubleArray(),
                wq.grad().toDoubleArray(), wk.grad().toDoubleArray(), z.grad().toDoubleArray()};
    }

    @Test
    void formsThatTrustTheCountsRefuseChunksTheyDoNotFit() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(new boolean[] {true, false, true, true, true, true}, 2, 3), p = Tensor.zeros(2, 3);
            Chunks ch = ChunkRouter.chunk(Tensor.randn(new Generator(1), 2, 3, 4), b);
            assertArrayEquals(new long[] {2, 3}, ch.counts());
            assertMessage(() -> ChunkRouter.dechunk(Tensor.zeros(2, 2, 4), ch, p, p), "dechunk", "row 1", "3 boundaries", "[2, 2, 4]");
            assertMessage(() -> ChunkRouter.dechunk(Tensor.zeros(2, 3, 4), ch, Tensor.zeros(2, 4), Tensor.zeros(2, 4)), "dechunk", "b", "[2, 4]");
            assertMessage(() -> ChunkRouter.routeChunks(Tensor.zeros(2, 2, 4), Tensor.zeros(2, 2, 4), ch), "route", "[2, 2, 4]", "[2, 3, 4]");
            Tensor one = Tensor.of(new boolean[] {true, false, true, true, false, true}, 1, 6);
            Chunks packed = ChunkRouter.chunkPacked(Tensor.randn(new Generator(2), 1, 6, 4), one, Tensor.of(new long[] {0, 3, 6}, 3));
            assertMessage(() -> ChunkRouter.dechunk(packed.x(), packed, Tensor.zeros(1, 6), Tensor.zeros(1, 6)), "dechunk", "2 packed sequences", "cuSeqlens");
            assertMessage(() -> ChunkRouter.routeChunks(packed.x(), packed.x(), packed), "route", "packed", "cuSeqlens");
            Tensor none = Tensor.zeros(DType.BOOL, 2, 3);
            assertMessage(() -> ChunkRouter.ratioLoss(none, p, 3, none), "ratioLoss", "no real positions");
        }
    }

    private static void assertMessage(Runnable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        for (String part : parts) assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' lacks '" + part + "'");
    }
}
