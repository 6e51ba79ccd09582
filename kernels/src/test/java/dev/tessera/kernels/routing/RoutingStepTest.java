package dev.tessera.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Decoding one position at a time reproduces the parallel form exactly, for a batch of different sequences. */
class RoutingStepTest {
    private static final int B = 4, L = 40, D = 21; // D off the vector width: the scalar tail runs too

    /** The parallel stage; the inner network is position-wise (precomputed per position), so both forms see the same ẑ. */
    private record Parallel(double[] p, double[] b, double[] c, double[] out, double[] inner) {}

    private static Parallel parallel(Tensor q, Tensor k, Tensor inner, Tensor cu) {
        Routing r = cu == null ? ChunkRouter.route(q, k) : ChunkRouter.routePacked(q, k, cu);
        Chunks ch = cu == null ? ChunkRouter.chunk(inner, r.b()) : ChunkRouter.chunkPacked(inner, r.b(), cu);
        Tensor out = cu == null ? ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c()) : ChunkRouter.dechunkPacked(ch.x(), r.p(), r.b(), r.c(), cu);
        return new Parallel(r.p().toDoubleArray(), r.b().toDoubleArray(), r.c().toDoubleArray(), out.toDoubleArray(), inner.toDoubleArray());
    }

    /** Steps positions [from, L) and checks each against the parallel result. */
    private static void stepAndCompare(RoutingState st, Tensor q, Tensor k, Parallel par, int from, int resetRow, int resetAt, DType dt) {
        for (int t = from; t < L; t++) {
            if (t == resetAt) st.reset(resetRow);
            StepRouting r = st.route(q.select(1, t), k.select(1, t));
            int[] rows = r.boundaryRows();
            double[] zh = new double[rows.length * D];
            for (int j = 0; j < rows.length; j++) System.arraycopy(par.inner, (rows[j] * L + t) * D, zh, j * D, D);
            double[] out = st.dechunk(Tensor.of(zh, rows.length, D).to(dt)).toDoubleArray();
            double[] p = r.p().toDoubleArray(), b = r.b().toDoubleArray(), c = r.c().toDoubleArray();
            for (int row = 0; row < B; row++) {
                int i = row * L + t;
                String at = "row " + row + ", t " + t;
                assertArrayEquals(new double[] {par.p[i], par.b[i], par.c[i]}, new double[] {p[row], b[row], c[row]}, 0, "p, b, c at " + at);
                for (int j = 0; j < D; j++) {
                    if (par.out[i * D + j] != out[row * D + j]) {
                        throw new AssertionError("dechunk at " + at + "[" + j + "]: parallel " + par.out[i * D + j] + ", step " + out[row * D + j]);
                    }
                }
            }
        }
    }

    private static Tensor[] data(DType dt, long seed) {
        Generator g = new Generator(seed);
        // Rows with different statistics, so that their boundary patterns differ.
        Tensor scale = Tensor.of(new float[] {0.2f, 1f, 3f, 1f}, B, 1, 1);
        Tensor q = Tensor.randn(g, B, L, D).add(Tensor.randn(g, B, 1, D).mul(scale)).to(dt);
        Tensor k = Tensor.randn(g, B, L, D).add(Tensor.randn(g, B, 1, D).mul(scale)).to(dt);
        Tensor inner = Tensor.randn(g, B, L, D).tanh().to(dt);
        return new Tensor[] {q, k, inner};
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void stepEqualsParallelAtEveryPosition(DType dt) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor[] x = data(dt, 1);
            stepAndCompare(RoutingState.create(B, D, dt), x[0], x[1], parallel(x[0], x[1], x[2], null), 0, -1, -1, dt);
        }
    }

    /**
     * Routing only some rows at each step (the rows whose outer stage closed a chunk, in a nested H-Net) leaves the
     * others untouched: every row still follows the parallel form exactly at each of its own positions.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void subsetStepsEqualParallelPerRow(DType dt) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor[] x = data(dt, 4);
            Parallel par = parallel(x[0], x[1], x[2], null);
            RoutingState st = RoutingState.create(B, D, dt);
            int[] at = new int[B];
            Generator pick = new Generator(5);
            int steps = 0;
            while (java.util.Arrays.stream(at).anyMatch(t -> t < L)) {
                float[] u = Tensor.rand(pick, B).toFloatArray();
                int[] rows = java.util.stream.IntStream.range(0, B).filter(r -> at[r] < L && u[r] < 0.6f).toArray();
                if (rows.length == 0) continue;
                RowSubset subset = RowSubset.of(B, rows);
                Tensor q = Tensor.stack(java.util.Arrays.stream(rows).mapToObj(r -> x[0].select(0, r).select(0, at[r])).toList(), 0);
                Tensor k = Tensor.stack(java.util.Arrays.stream(rows).mapToObj(r -> x[1].select(0, r).select(0, at[r])).toList(), 0);
                StepRouting r = st.route(q, k, subset);
                int[] closing = r.boundaryRows();
                double[] zh = new double[closing.length * D];
                for (int j = 0; j < closing.length; j++) System.arraycopy(par.inner, (rows[closing[j]] * L + at[rows[closing[j]]]) * D, zh, j * D, D);
                double[] out = st.dechunk(Tensor.of(zh, closing.length, D).to(dt)).toDoubleArray();
                double[] p = r.p().toDoubleArray(), b = r.b().toDoubleArray(), c = r.c().toDoubleArray();
                for (int j = 0; j < rows.length; j++) {
                    int row = rows[j], i = row * L + at[row];
                    String where = "row " + row + ", t " + at[row];
                    assertArrayEquals(new double[] {par.p[i], par.b[i], par.c[i]}, new double[] {p[j], b[j], c[j]}, 0, "p, b, c at " + where);
                    assertArrayEquals(java.util.Arrays.copyOfRange(par.out, i * D, (i + 1) * D), java.util.Arrays.copyOfRange(out, j * D, (j + 1) * D), 0,
                            "dechunk at " + where);
                    at[row]++;
                }
                steps++;
            }
            org.junit.jupiter.api.Assertions.assertTrue(steps > L, "rows advanced at different times: " + steps + " steps");
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> st.route(x[0].select(1, 0).narrow(0, 0, 1), x[1].select(1, 0).narrow(0, 0, 1), RowSubset.of(B + 1, 0)));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("for a state of " + B + " rows"), e.getMessage());
        }
    }

    /** Prefill the first positions in parallel, then step: the same as running everything in parallel. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void stepAfterParallelPrefill(DType dt) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor[] x = data(dt, 2);
            int prompt = 17;
            Routing r = ChunkRouter.route(x[0].narrow(1, 0, prompt), x[1].narrow(1, 0, prompt));
            Chunks ch = ChunkRouter.chunk(x[2].narrow(1, 0, prompt), r.b());
            Tensor out = ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c());
            RoutingState st = RoutingState.afterPrefill(x[0].narrow(1, 0, prompt), out, null);
            stepAndCompare(st, x[0], x[1], parallel(x[0], x[1], x[2], null), prompt, -1, -1, dt);
        }
    }

    /** Resetting one row mid-stream starts a new sequence there: the same as packing that row with cuSeqlens. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void resetEqualsPackedSequenceStart(DType dt) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor[] x = data(dt, 3);
            int row = 2, at = 13;
            Parallel plain = parallel(x[0], x[1], x[2], null);
            Parallel packed = parallel(x[0].narrow(0, row, 1), x[1].narrow(0, row, 1), x[2].narrow(0, row, 1), Tensor.of(new long[] {0, at, L}, 3));
            // Expected: row `row` from the packed run, the other rows from the plain run.
            System.arraycopy(packed.p, 0, plain.p, row * L, L);
            System.arraycopy(packed.b, 0, plain.b, row * L, L);
            System.arraycopy(packed.c, 0, plain.c, row * L, L);
            System.arraycopy(packed.out, 0, plain.out, row * L * D, L * D);
            stepAndCompare(RoutingState.create(B, D, dt), x[0], x[1], plain, 0, row, at, dt);
        }
    }

    /**
     * Decisions made outside the routing module (a fixed rule): stepping with {@link RoutingState#routeFixed} gives
     * the parallel dechunk of p = the decisions, c = 1. A row's first position, and a reset row's next one, start a
     * chunk even where the rule says not.
     */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64"})
    void fixedDecisionsStepEqualsParallel(DType dt) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor inner = data(dt, 4)[2];
            boolean[] rule = new boolean[B * L], starts = new boolean[B * L];
            java.util.Random rnd = new java.util.Random(5);
            for (int i = 0; i < rule.length; i++) {
                int t = i % L;
                rule[i] = rnd.nextInt(4) == 0 && !(t == 0 && i / L == 1);
                starts[i] = rule[i] || t == 0;
            }
            double[] p = new double[B * L];
            for (int i = 0; i < p.length; i++) p[i] = starts[i] ? 1 : 0;
            Tensor pt = Tensor.of(p, B, L).to(dt), bt = Tensor.of(starts, B, L);
            Chunks ch = ChunkRouter.chunk(inner, bt);
            double[] want = ChunkRouter.dechunk(ch.x(), pt, bt, Tensor.ones(dt, B, L)).toDoubleArray(), zv = inner.toDoubleArray();
            RoutingState st = RoutingState.create(B, D, dt);
            for (int t = 0; t < L; t++) {
                boolean[] col = new boolean[B];
                for (int r = 0; r < B; r++) col[r] = rule[r * L + t];
                StepRouting r = st.routeFixed(col);
                int[] rows = r.boundaryRows();
                double[] zh = new double[rows.length * D];
                for (int j = 0; j < rows.length; j++) System.arraycopy(zv, (rows[j] * L + t) * D, zh, j * D, D);
                double[] out = st.dechunk(Tensor.of(zh, rows.length, D).to(dt)).toDoubleArray();
                double[] sp = r.p().toDoubleArray(), sb = r.b().toDoubleArray(), sc = r.c().toDoubleArray();
                for (int row = 0; row < B; row++) {
                    int i = row * L + t;
                    assertArrayEquals(new double[] {p[i], p[i], 1}, new double[] {sp[row], sb[row], sc[row]}, 0, "p, b, c at row " + row + ", t " + t);
                    for (int j = 0; j < D; j++) {
                        if (want[i * D + j] != out[row * D + j]) {
                            throw new AssertionError("dechunk at row " + row + ", t " + t + "[" + j + "]: parallel " + want[i * D + j] + ", step " + out[row * D + j]);
                        }
                    }
                }
            }
            st.reset(2);
            assertArrayEquals(new int[] {2}, st.routeFixed(new boolean[B]).boundaryRows(), "a reset row starts a chunk");
        }
    }

    /** close releases the state's memory at once (it is tensor storage), and a closed state refuses every step. */
    @Test
    void closeReleasesTheStateAndAClosedStateRefusesToStep() {
        long before = dev.tessera.runtime.MemoryStats.cpuLiveBytes();
        RoutingState st = RoutingState.create(3, 8, DType.F32);
        org.junit.jupiter.api.Assertions.assertEquals(before + 2 * 3 * 8 * 4, dev.tessera.runtime.MemoryStats.cpuLiveBytes());
        st.close();
        org.junit.jupiter.api.Assertions.assertEquals(before, dev.tessera.runtime.MemoryStats.cpuLiveBytes(), "released at close");
        st.close(); // twice: nothing more
        try (Scope s = Scope.open()) {
            Tensor q = Tensor.ones(3, 8);
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> st.route(q, q));
            org.junit.jupiter.api.Assertions.assertEquals("RoutingState.route: the state is closed", e.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> st.reset(0));
        }
    }
}
