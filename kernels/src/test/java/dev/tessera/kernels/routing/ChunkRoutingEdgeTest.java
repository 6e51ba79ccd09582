package dev.tessera.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** Degenerate boundary patterns, batching forms that must agree with separate runs, and argument errors. */
class ChunkRoutingEdgeTest {
    private static final double P_FIRST = 1 - 1e-4; // P of a sequence start (p = 1, clamped)

    /** q_t = v, k_t = −v: cos = −1, p = 1 everywhere, every position a chunk. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void allPositionsBoundaries(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor v = Tensor.randn(new Generator(1), 2, 1, 5).expand(2, 9, 5).to(dt);
            Routing r = ChunkRouter.route(v, v.neg());
            assertTrue(Arrays.stream(r.b().toIntArray()).allMatch(x -> x == 1));
            Tensor x = Tensor.randn(new Generator(2), 2, 9, 5).to(dt);
            Chunks ch = ChunkRouter.chunk(x, r.b());
            assertArrayEquals(x.toDoubleArray(), ch.x().toDoubleArray());
            assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}, ch.index().toLongArray());
            // P = 1 − 1e−4 at every chunk: out_t = P·ẑ_t + 1e−4·out_{t−1}.
            double[] out = ChunkRouter.dechunk(x, r.p(), r.b(), r.c()).toDoubleArray(), z = x.toDoubleArray();
            for (int i = 0; i < out.length; i++) {
                double prev = i % 45 < 5 ? 0 : out[i - 5];
                assertEquals(P_FIRST * z[i] + 1e-4 * prev, out[i], 1e-6);
            }
        }
    }

    /** q = k = v: cos = 1, p = 0 after the start; one chunk per row, repeated. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void noBoundaryAfterTheFirst(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor v = Tensor.randn(new Generator(3), 2, 1, 6).expand(2, 7, 6).to(dt).contiguous();
            Routing r = ChunkRouter.route(v, v);
            int[] b = r.b().toIntArray();
            for (int i = 0; i < b.length; i++) assertEquals(i % 7 == 0 ? 1 : 0, b[i], "b[" + i + "]");
            assertEquals(1.0, r.c().toDoubleArray()[3], 1e-6); // p = 0, c = 1 − p
            Chunks ch = ChunkRouter.chunk(v, r.b());
            assertArrayEquals(new int[] {2, 1, 6}, ch.x().shape());
            assertArrayEquals(new long[] {1, 1}, ch.lengths().toLongArray());
            double[] out = ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c()).toDoubleArray(), z = ch.x().toDoubleArray();
            for (int i = 0; i < out.length; i++) assertEquals(P_FIRST * z[(i / 42) * 6 + i % 6], out[i], 1e-6);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void lengthOne(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.randn(new Generator(4), 3, 1, 4).to(dt);
            Routing r = ChunkRouter.route(q, q);
            assertArrayEquals(new double[] {1, 1, 1}, r.p().toDoubleArray());
            assertArrayEquals(new double[] {1, 1, 1}, r.c().toDoubleArray());
            Chunks ch = ChunkRouter.chunk(q, r.b());
            assertArrayEquals(q.toDoubleArray(), ch.x().toDoubleArray());
            double[] out = ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c()).toDoubleArray(), z = q.toDoubleArray();
            for (int i = 0; i < out.length; i++) assertEquals(P_FIRST * z[i], out[i], 1e-6);
        }
    }

    /** cos = 0 exactly gives p = 0.5 exactly: no boundary (the code's argmax), c = 0.5. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void probabilityExactlyOneHalfIsNoBoundary(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.of(new double[] {1, 0, 1, 0}, 1, 2, 2).to(dt), k = Tensor.of(new double[] {1, 0, 0, 3}, 1, 2, 2).to(dt);
            Routing r = ChunkRouter.route(q, k);
            assertArrayEquals(new double[] {1, 0.5}, r.p().toDoubleArray());
            assertArrayEquals(new int[] {1, 0}, r.b().toIntArray());
            assertArrayEquals(new double[] {1, 0.5}, r.c().toDoubleArray());
            RoutingState st = RoutingState.create(1, 2, dt);
            st.route(q.select(1, 0), k.select(1, 0));
            st.dechunk(Tensor.zeros(dt, 1, 2));
            StepRouting step = st.route(q.select(1, 1), k.select(1, 1));
            assertEquals(0.5, step.p().item());
            assertEquals(0, step.boundaryRows().length);
        }
    }

    /** Three sequences run alone, packed with cuSeqlens, and padded with right and left masks: the same numbers. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void packedAndMaskedMatchSeparateRuns(DType dt) {
        int[] lens = {5, 3, 7};
        int d = 6, total = 15, max = 7;
        try (Scope s = Scope.open()) {
            Generator g = new Generator(9);
            Tensor q = Tensor.randn(g, 1, total, d), k = Tensor.randn(g, 1, total, d), x = Tensor.randn(g, 1, total, d);
            List<Pipeline> alone = new ArrayList<>();
            int off = 0;
            for (int len : lens) {
                alone.add(Pipeline.run(q.narrow(1, off, len), k.narrow(1, off, len), x.narrow(1, off, len), null, null, dt, 11));
                off += len;
            }
            // Packed: one row; every sequence start is a boundary and the EMA restarts there.
            Tensor cu = Tensor.of(new long[] {0, 5, 8, 15}, 4);
            Pipeline packed = Pipeline.run(q, k, x, null, cu, dt, 11);
            off = 0;
            for (int i = 0; i < lens.length; i++) {
                Pipeline a = alone.get(i);
                assertArrayEquals(a.p(), Arrays.copyOfRange(packed.p(), off, off + lens[i]), 1e-6, "packed p");
                assertArrayEquals(a.b(), Arrays.copyOfRange(packed.b(), off, off + lens[i]), "packed b");
                off += lens[i];
            }
            // Right and left padding, [3, 7, D].
            for (boolean left : new boolean[] {false, true}) {
                Tensor[] padded = new Tensor[3];
                boolean[] m = new boolean[3 * max];
                List<List<Tensor>> rows = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
                Tensor[] src = {q, k, x};
                off = 0;
                for (int i = 0; i < 3; i++) {
                    int pad = max - lens[i], at = left ? pad : 0;
                    for (int t = 0; t < lens[i]; t++) m[i * max + at + t] = true;
                    for (int j = 0; j < 3; j++) rows.get(j).add(src[j].narrow(1, off, lens[i]).pad(new int[] {0, 0, left ? pad : 0, left ? 0 : pad}, 0));
                    off += lens[i];
                }
                for (int j = 0; j < 3; j++) padded[j] = Tensor.cat(rows.get(j), 0);
                Tensor mask = Tensor.of(m, 3, max);
                Pipeline pp = Pipeline.run(padded[0], padded[1], padded[2], mask, null, dt, 11);
                for (int i = 0; i < 3; i++) {
                    Pipeline a = alone.get(i);
                    int at = i * max + (left ? max - lens[i] : 0);
                    assertArrayEquals(a.p(), Arrays.copyOfRange(pp.p(), at, at + lens[i]), 1e-6, "padded p, left " + left);
                    assertArrayEquals(a.b(), Arrays.copyOfRange(pp.b(), at, at + lens[i]), "padded b, left " + left);
                    assertArrayEquals(a.c(), Arrays.copyOfRange(pp.c(), at, at + lens[i]), 1e-6, "padded c, left " + left);
                }
                for (int i = 0; i < 3 * max; i++) if (!m[i]) assertEquals(0, pp.b()[i], "padding is never a boundary");
            }
        }
    }

    /** Outputs and gradients per sequence agree between separate runs and the packed run (the loss there is separable). */
    @Test
    void packedOutputsAndGradientsMatchSeparateRuns() {
        int[] lens = {4, 1, 6};
        int d = 5;
        try (Scope s = Scope.open()) {
            Generator g = new Generator(21);
            Tensor q = Tensor.randn(g, 1, 11, d).to(DType.F64), k = Tensor.randn(g, 1, 11, d).to(DType.F64), x = Tensor.randn(g, 1, 11, d).to(DType.F64);
            Tensor proj = Tensor.randn(new Generator(22), 1, 11, d).to(DType.F64);
            Tensor cu = Tensor.of(new long[] {0, 4, 5, 11}, 4);
            double[][] packed = stage(q, k, x, proj, cu);
            int off = 0;
            for (int len : lens) {
                double[][] alone = stage(q.narrow(1, off, len), k.narrow(1, off, len), x.narrow(1, off, len), proj.narrow(1, off, len), null);
                for (int j = 0; j < alone.length; j++) {
                    assertArrayEquals(alone[j], Arrays.copyOfRange(packed[j], off * d, (off + len) * d), 1e-12, "array " + j);
                }
                off += len;
            }
        }
    }

    /** out, dq, dk, dx of one stage under the loss Σ out·proj. */
    private static double[][] stage(Tensor q0, Tensor k0, Tensor x0, Tensor proj, Tensor cu) {
        Tensor q = q0.contiguous().requiresGrad(true), k = k0.contiguous().requiresGrad(true), x = x0.contiguous().requiresGrad(true);
        Routing r = cu == null ? ChunkRouter.route(q, k) : ChunkRouter.routePacked(q, k, cu);
        Chunks ch = cu == null ? ChunkRouter.chunk(x, r.b()) : ChunkRouter.chunkPacked(x, r.b(), cu);
        Tensor out = cu == null ? ChunkRouter.dechunk(ch.x().tanh(), r.p(), r.b(), r.c())
                : ChunkRouter.dechunkPacked(ch.x().tanh(), r.p(), r.b(), r.c(), cu);
        out.mul(proj).sum().backward();
        return new double[][] {out.toDoubleArray(), q.grad().toDoubleArray(), k.grad().toDoubleArray(), x.grad().toDoubleArray()};
    }

    @Test
    void chunkMetadata() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(new boolean[] {true, false, true, true, true, false, false, false}, 2, 4);
            Chunks ch = ChunkRouter.chunk(Tensor.randn(new Generator(5), 2, 4, 3), b);
            assertArrayEquals(new int[] {2, 3, 3}, ch.x().shape());
            assertArrayEquals(new long[] {3, 1}, ch.lengths().toLongArray());
            assertArrayEquals(new long[] {0, 3, 4}, ch.cuSeqlens().toLongArray());
            assertArrayEquals(new int[] {1, 1, 1, 1, 0, 0}, ch.mask().toIntArray());
            assertArrayEquals(new long[] {1, 1, 2, 3, 1, 1, 1, 1}, ch.index().toLongArray());
            Tensor bp = Tensor.of(new boolean[] {true, false, true, true, false, true}, 1, 6);
            Chunks packed = ChunkRouter.chunkPacked(Tensor.randn(new Generator(6), 1, 6, 2), bp, Tensor.of(new int[] {0, 3, 5, 6}, 4));
            assertArrayEquals(new long[] {2, 1, 1}, packed.lengths().toLongArray());
            assertArrayEquals(new long[] {0, 2, 3, 4}, packed.cuSeqlens().toLongArray());
        }
    }

    @Test
    void badArgumentsNameTheArgumentAndShapes() {
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.zeros(2, 3, 4), k5 = Tensor.zeros(2, 3, 5);
            assertMessage(() -> ChunkRouter.route(q, k5), "route", "[2, 3, 4]", "[2, 3, 5]");
            assertMessage(() -> ChunkRouter.route(Tensor.zeros(3, 4), Tensor.zeros(3, 4)), "route", "q", "[3, 4]");
            assertMessage(() -> ChunkRouter.route(q.to(DType.I32), q.to(DType.I32)), "route", "F32 or F64", "I32");
            assertMessage(() -> ChunkRouter.route(q, q, Tensor.zeros(DType.BOOL, 2, 4)), "mask", "[2, 3]", "[2, 4]");
            assertMessage(() -> ChunkRouter.route(q, q, Tensor.of(new boolean[] {true, false, true, true, true, true}, 2, 3)), "mask", "row 0");
            assertMessage(() -> ChunkRouter.routePacked(q, q, Tensor.of(new long[] {0, 3}, 2)), "cuSeqlens", "batch 1", "B = 2");
            Tensor q1 = Tensor.zeros(1, 3, 4);
            assertMessage(() -> ChunkRouter.routePacked(q1, q1, Tensor.of(new long[] {0, 2}, 2)), "cuSeqlens", "L = 3");
            assertMessage(() -> ChunkRouter.routePacked(q1, q1, Tensor.of(new long[] {0, 2, 1, 3}, 4)), "non-decreasing");
            assertMessage(() -> ChunkRouter.chunk(q, Tensor.zeros(2, 3)), "chunk", "b", "BOOL", "F32");
            Tensor b = Tensor.of(new boolean[] {true, true, true, true, false, false}, 2, 3), p = Tensor.zeros(2, 3);
            assertMessage(() -> ChunkRouter.dechunk(Tensor.zeros(2, 2, 4), p, b, p), "dechunk", "row 0", "3 boundaries", "[2, 2, 4]");
            assertMessage(() -> ChunkRouter.dechunk(Tensor.zeros(2, 3, 4), Tensor.zeros(3, 3), b, p), "dechunk", "p", "[3, 3]");
            assertMessage(() -> ChunkRouter.dechunk(Tensor.zeros(2, 3, 4), p, b, Tensor.zeros(2, 2)), "dechunk", "c", "[2, 2]");
            assertMessage(() -> ChunkRouter.ratioLoss(b, p, 1), "ratioLoss", "N");
            assertMessage(() -> RoutingState.create(2, 4, DType.F32).route(Tensor.zeros(2, 5), Tensor.zeros(2, 5)), "RoutingState", "[2, 4]", "[2, 5]");
            RoutingState st = RoutingState.create(2, 4, DType.F32);
            assertThrows(IllegalStateException.class, () -> st.dechunk(null));
            StepRouting r = st.route(Tensor.zeros(2, 4), Tensor.zeros(2, 4));
            assertArrayEquals(new int[] {0, 1}, r.boundaryRows());
            assertMessage(() -> st.dechunk(Tensor.zeros(1, 4)), "zhat", "[2, 4]", "[1, 4]");
            assertThrows(IllegalStateException.class, () -> st.route(Tensor.zeros(2, 4), Tensor.zeros(2, 4)));
        }
    }

    private static void assertMessage(Runnable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        for (String part : parts) assertTrue(e.getMessage().contains(part), "message '" + e.getMessage() + "' lacks '" + part + "'");
    }
}
