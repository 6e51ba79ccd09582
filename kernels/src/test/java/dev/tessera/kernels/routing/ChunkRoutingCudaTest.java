package dev.tessera.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The CUDA chunk routing (native/cuda/kernels/chunk_routing.cu) against the float64 reference: a whole stage
 * (route → chunk → inner → dechunk → loss with the ratio loss) through {@link Pipeline}, forward values and the
 * gradients of q, k and x̂, for plain, masked (uneven chunk counts) and packed batches and degenerate boundary
 * patterns; chunk metadata; and the batched step against the parallel form at every position.
 */
@Tag("gpu")
class ChunkRoutingCudaTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        CudaTests.assumeGpu();
    }

    private static double tol(DType dt) { return dt == DType.F64 ? 1e-9 : dt == DType.F32 ? 3e-4 : 6e-2; }

    /** CPU F64 reference of the inputs as rounded to dt, against the GPU in dt. */
    private static void stage(Tensor q, Tensor k, Tensor x, Tensor mask, Tensor cu, DType dt, long seed, boolean gradsOfRoute) {
        Tensor qr = q.to(dt).to(DType.F64), kr = k.to(dt).to(DType.F64), xr = x.to(dt).to(DType.F64);
        Pipeline ref = Pipeline.run(qr, kr, xr, mask, cu, DType.F64, seed);
        Pipeline gpu = Pipeline.run(qr, kr, xr, mask, cu, dt, seed, GPU);
        if (gradsOfRoute) {
            ref.assertMatches(gpu, tol(dt));
        } else {
            double t = tol(dt);
            assertArrayEquals(ref.b(), gpu.b(), "b");
            Pipeline.assertClose(ref.p(), gpu.p(), t, "p");
            Pipeline.assertClose(ref.c(), gpu.c(), t, "c");
            Pipeline.assertClose(ref.chunks(), gpu.chunks(), t, "chunks");
            Pipeline.assertClose(ref.out(), gpu.out(), t, "out");
            Pipeline.assertClose(ref.dx(), gpu.dx(), t, "dx");
        }
    }

    /** k_t = ±q_{t−1}·scale + noise: p well away from 0.5 (and from 0 and 1), so BF16 takes the reference's decisions. */
    private static Tensor[] signed(long seed, int nb, int len, int d, double noise) {
        Generator g = new Generator(seed);
        Tensor q = Tensor.randn(g, nb, len, d);
        Tensor shifted = Tensor.cat(java.util.List.of(Tensor.randn(g, nb, 1, d), q.narrow(1, 0, len - 1)), 1);
        double[] signs = new double[nb * len];
        double[] u = Tensor.rand(g, nb * len).toDoubleArray();
        for (int i = 0; i < signs.length; i++) signs[i] = u[i] < 0.4 ? -1 : 1;
        Tensor k = shifted.mul(Tensor.of(signs, nb, len, 1)).add(Tensor.randn(g, nb, len, d).mul(noise));
        return new Tensor[] {q, k, Tensor.randn(g, nb, len, d)};
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32"})
    void plainRowsRandom(DType dt) {
        for (int d : new int[] {3, 16, 37, 64, 256}) {
            try (Scope s = Scope.open()) {
                Generator g = new Generator(d);
                stage(Tensor.randn(g, 3, 29, d), Tensor.randn(g, 3, 29, d), Tensor.randn(g, 3, 29, d), null, null, dt, 5, true);
            }
        }
    }

    /** BF16 on data whose boundary decisions have a margin (bf16 rounding of p cannot flip them). */
    @Test
    void bf16WithMargins() {
        for (int d : new int[] {8, 64, 100}) {
            try (Scope s = Scope.open()) {
                Tensor[] x = signed(40 + d, 3, 33, d, 1.2);
                stage(x[0], x[1], x[2], null, null, DType.BF16, 6, true);
            }
        }
    }

    /** Right and left padding with different lengths: uneven chunk counts across the batch. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32"})
    void maskedRowsUnevenChunkCounts(DType dt) {
        for (int d : new int[] {5, 32}) {
            try (Scope s = Scope.open()) {
                Generator g = new Generator(100 + d);
                int len = 23;
                boolean[] m = new boolean[4 * len];
                for (int t = 0; t < len; t++) {
                    m[t] = true;
                    m[len + t] = t < 9;
                    m[2 * len + t] = t >= 4;
                    m[3 * len + t] = t == 11;
                }
                stage(Tensor.randn(g, 4, len, d), Tensor.randn(g, 4, len, d), Tensor.randn(g, 4, len, d), Tensor.of(m, 4, len), null, dt, 6, true);
            }
        }
    }

    /** Packed sequences (cuSeqlens, I64 and I32) with a length-1 and an empty sequence. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32"})
    void packed(DType dt) {
        for (int d : new int[] {4, 40}) {
            try (Scope s = Scope.open()) {
                Generator g = new Generator(200 + d);
                Tensor q = Tensor.randn(g, 1, 31, d), k = Tensor.randn(g, 1, 31, d), x = Tensor.randn(g, 1, 31, d);
                stage(q, k, x, null, Tensor.of(new long[] {0, 1, 12, 12, 25, 31}, 6), dt, 7, true);
                stage(q, k, x, null, Tensor.of(new int[] {0, 9, 10, 31}, 4), dt, 8, true);
            }
        }
    }

    /** Long rows: the dechunk EMA runs in several segments (M > MIN_SEGMENT) with carries and fix-up. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32"})
    void longRowsSegmentedScan(DType dt) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(300);
            int len = 700, d = 8;
            stage(Tensor.randn(g, 2, len, d), Tensor.randn(g, 2, len, d), Tensor.randn(g, 2, len, d), null, null, dt, 9, true);
            Tensor cu = Tensor.of(new long[] {0, 150, 151, 600, 1400}, 5);
            Tensor q = Tensor.randn(g, 1, 1400, d), k = Tensor.randn(g, 1, 1400, d), x = Tensor.randn(g, 1, 1400, d);
            stage(q, k, x, null, cu, dt, 10, true);
        }
    }

    /** q_t = v, k_t = −v: every position a boundary. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "BF16"})
    void allPositionsBoundaries(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor v = Tensor.randn(new Generator(1), 2, 1, 5).expand(2, 9, 5).contiguous();
            stage(v, v.neg(), Tensor.randn(new Generator(2), 2, 9, 5), null, null, dt, 3, false);
        }
    }

    /** q = k = v: one chunk per row, upsampled over the whole row. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "BF16"})
    void noBoundaryAfterTheFirst(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor v = Tensor.randn(new Generator(3), 2, 1, 6).expand(2, 7, 6).contiguous();
            stage(v, v, Tensor.randn(new Generator(4), 2, 7, 6), null, null, dt, 4, false);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "BF16"})
    void lengthOne(DType dt) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(4);
            stage(Tensor.randn(g, 3, 1, 4), Tensor.randn(g, 3, 1, 4), Tensor.randn(g, 3, 1, 4), null, null, dt, 5, true);
        }
    }

    /** k_t ≈ ±q_{t−1}: p within ~1e−5 of 0 and 1, where the smoothing clamp holds dp at 0. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32"})
    void probabilitiesNearZeroAndOne(DType dt) {
        try (Scope s = Scope.open()) {
            Tensor[] x = signed(77, 3, 25, 16, 0.003);
            stage(x[0], x[1], x[2], null, null, dt, 11, dt == DType.F64);
        }
    }

    /** Every returned tensor is on the GPU; chunk metadata equal to the CPU's. */
    @Test
    void chunkMetadataOnTheDevice() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(new boolean[] {true, false, true, true, true, false, false, false}, 2, 4);
            Tensor x = Tensor.randn(new Generator(5), 2, 4, 3);
            Chunks cpu = ChunkRouter.chunk(x, b), gpu = ChunkRouter.chunk(x.to(GPU), b.to(GPU));
            for (Tensor t : new Tensor[] {gpu.x(), gpu.mask(), gpu.lengths(), gpu.cuSeqlens(), gpu.index()}) assertEquals(GPU, t.device());
            assertArrayEquals(cpu.x().toDoubleArray(), gpu.x().toDoubleArray());
            assertArrayEquals(cpu.mask().toIntArray(), gpu.mask().toIntArray());
            assertArrayEquals(cpu.lengths().toLongArray(), gpu.lengths().toLongArray());
            assertArrayEquals(cpu.cuSeqlens().toLongArray(), gpu.cuSeqlens().toLongArray());
            assertArrayEquals(cpu.index().toLongArray(), gpu.index().toLongArray());
            Tensor bp = Tensor.of(new boolean[] {true, false, true, true, false, true}, 1, 6);
            Tensor xp = Tensor.randn(new Generator(6), 1, 6, 2), cu = Tensor.of(new int[] {0, 3, 5, 6}, 4);
            Chunks pc = ChunkRouter.chunkPacked(xp, bp, cu), pg = ChunkRouter.chunkPacked(xp.to(GPU), bp.to(GPU), cu);
            assertArrayEquals(pc.lengths().toLongArray(), pg.lengths().toLongArray());
            assertArrayEquals(pc.cuSeqlens().toLongArray(), pg.cuSeqlens().toLongArray());
            assertArrayEquals(pc.mask().toIntArray(), pg.mask().toIntArray());
            Routing r = ChunkRouter.route(x.to(GPU), x.to(GPU).neg());
            for (Tensor t : new Tensor[] {r.p(), r.b(), r.c()}) assertEquals(GPU, t.device());
            // dechunk the chunks of the routing's own boundaries (the fixed b above has a different count per row)
            Tensor out = ChunkRouter.dechunk(ChunkRouter.chunk(x.to(GPU), r.b()).x(), r.p(), r.b(), r.c());
            assertEquals(GPU, out.device());
            assertEquals(GPU, ChunkRouter.ratioLoss(r.b(), r.p(), 3).device());
        }
    }

    // ------------------------------------------------------------------ step == parallel

    private static final int B = 4, L = 40;

    private record Parallel(double[] p, double[] b, double[] c, double[] out, double[] inner) {}

    private static Parallel parallel(Tensor q, Tensor k, Tensor inner, Tensor cu) {
        Routing r = cu == null ? ChunkRouter.route(q, k) : ChunkRouter.routePacked(q, k, cu);
        Chunks ch = cu == null ? ChunkRouter.chunk(inner, r.b()) : ChunkRouter.chunkPacked(inner, r.b(), cu);
        Tensor out = cu == null ? ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c()) : ChunkRouter.dechunkPacked(ch.x(), r.p(), r.b(), r.c(), cu);
        return new Parallel(r.p().toDoubleArray(), r.b().toDoubleArray(), r.c().toDoubleArray(), out.toDoubleArray(), inner.toDoubleArray());
    }

    private static Tensor[] stepData(DType dt, long seed, int d) {
        Generator g = new Generator(seed);
        Tensor scale = Tensor.of(new float[] {0.2f, 1f, 3f, 1f}, B, 1, 1);
        Tensor q = Tensor.randn(g, B, L, d).add(Tensor.randn(g, B, 1, d).mul(scale)).to(dt).to(GPU);
        Tensor k = Tensor.randn(g, B, L, d).add(Tensor.randn(g, B, 1, d).mul(scale)).to(dt).to(GPU);
        Tensor inner = Tensor.randn(g, B, L, d).tanh().to(dt).to(GPU);
        return new Tensor[] {q, k, inner};
    }

    private static void stepAndCompare(RoutingState st, Tensor q, Tensor k, Parallel par, int from, int d, DType dt, int resetRow, int resetAt) {
        for (int t = from; t < L; t++) {
            if (t == resetAt) st.reset(resetRow);
            StepRouting r = st.route(q.select(1, t), k.select(1, t));
            assertEquals(GPU, r.p().device());
            int[] rows = r.boundaryRows();
            double[] zh = new double[rows.length * d];
            for (int j = 0; j < rows.length; j++) System.arraycopy(par.inner, (rows[j] * L + t) * d, zh, j * d, d);
            Tensor outT = st.dechunk(rows.length == 0 ? null : Tensor.of(zh, rows.length, d).to(dt).to(GPU));
            assertEquals(GPU, outT.device());
            double[] out = outT.toDoubleArray(), p = r.p().toDoubleArray(), b = r.b().toDoubleArray(), c = r.c().toDoubleArray();
            for (int row = 0; row < B; row++) {
                int i = row * L + t;
                String at = dt + " row " + row + ", t " + t;
                assertArrayEquals(new double[] {par.p[i], par.b[i], par.c[i]}, new double[] {p[row], b[row], c[row]}, 0, "p, b, c at " + at);
                for (int j = 0; j < d; j++) {
                    if (par.out[i * d + j] != out[row * d + j]) {
                        throw new AssertionError("dechunk at " + at + "[" + j + "]: parallel " + par.out[i * d + j] + ", step " + out[row * d + j]);
                    }
                }
            }
        }
    }

    /** Bit for bit at every position, for D on and off the 16-byte vector width. */
    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "BF16"})
    void stepEqualsParallelAtEveryPosition(DType dt) {
        for (int d : new int[] {21, 64}) {
            try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                Tensor[] x = stepData(dt, 1 + d, d);
                stepAndCompare(RoutingState.create(B, d, dt, GPU), x[0], x[1], parallel(x[0], x[1], x[2], null), 0, d, dt, -1, -1);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32"})
    void stepAfterParallelPrefillAndReset(DType dt) {
        int d = 24;
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor[] x = stepData(dt, 2, d);
            int prompt = 17;
            Routing r = ChunkRouter.route(x[0].narrow(1, 0, prompt), x[1].narrow(1, 0, prompt));
            Chunks ch = ChunkRouter.chunk(x[2].narrow(1, 0, prompt), r.b());
            Tensor out = ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c());
            RoutingState st = RoutingState.afterPrefill(x[0].narrow(1, 0, prompt), out, null);
            stepAndCompare(st, x[0], x[1], parallel(x[0], x[1], x[2], null), prompt, d, dt, -1, -1);

            int row = 2, at = 13;
            Parallel plain = parallel(x[0], x[1], x[2], null);
            Parallel packed = parallel(x[0].narrow(0, row, 1), x[1].narrow(0, row, 1), x[2].narrow(0, row, 1), Tensor.of(new long[] {0, at, L}, 3));
            System.arraycopy(packed.p, 0, plain.p, row * L, L);
            System.arraycopy(packed.b, 0, plain.b, row * L, L);
            System.arraycopy(packed.c, 0, plain.c, row * L, L);
            System.arraycopy(packed.out, 0, plain.out, row * L * d, L * d);
            stepAndCompare(RoutingState.create(B, d, dt, GPU), x[0], x[1], plain, 0, d, dt, row, at);
        }
    }

    /** The CPU step and the GPU step agree (the CPU form is itself checked against the CPU parallel form). */
    @Test
    void stepOnCpuAndGpuAgree() {
        int d = 12;
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor[] x = stepData(DType.F64, 5, d);
            RoutingState cpu = RoutingState.create(B, d, DType.F64), gpu = RoutingState.create(B, d, DType.F64, GPU);
            for (int t = 0; t < L; t++) {
                Tensor qt = x[0].select(1, t), kt = x[1].select(1, t);
                StepRouting rc = cpu.route(qt.to(Device.cpu()), kt.to(Device.cpu())), rg = gpu.route(qt, kt);
                assertArrayEquals(rc.boundaryRows(), rg.boundaryRows(), "rows at " + t);
                Pipeline.assertClose(rc.p().toDoubleArray(), rg.p().toDoubleArray(), 1e-12, "p at " + t);
                int[] rows = rc.boundaryRows();
                Tensor zh = rows.length == 0 ? null : x[2].select(1, t).to(Device.cpu()).indexSelect(0, Tensor.of(Arrays.stream(rows).asLongStream().toArray(), rows.length));
                double[] oc = cpu.dechunk(zh).toDoubleArray(), og = gpu.dechunk(zh == null ? null : zh.to(GPU)).toDoubleArray();
                Pipeline.assertClose(oc, og, 1e-12, "out at " + t);
            }
        }
    }
}
