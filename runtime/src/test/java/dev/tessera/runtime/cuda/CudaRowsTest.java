package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA row kernels (CudaRows: reductions, softmax, LayerNorm / RMSNorm) against the CPU, through the public
 * Tensor API: inputs made on the CPU, copied to cuda:0, results copied back and compared with the CPU's.
 */
@Tag("gpu")
class CudaRowsTest {
    private static final Device CUDA = Device.cuda(0), CPU = Device.cpu();

    private static Tensor gpu(Tensor t) { return t.to(CUDA); }

    private static double[] host(Tensor t) { return t.to(CPU).toDoubleArray(); }

    private static double tol(DType t) {
        return switch (t) {
            case F64 -> 1e-12;
            case BF16, F16 -> 2e-2;
            default -> 1e-5;
        };
    }

    /** Elementwise closeness relative to the largest |want| (at least 1); NaN and infinities must match exactly. */
    private static void close(double[] want, double[] got, double rel, String what) {
        assertEquals(want.length, got.length, what + ": length");
        double scale = 1;
        for (double v : want) if (Double.isFinite(v)) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) {
            if (Double.isNaN(want[i]) || Double.isInfinite(want[i])) {
                assertEquals(want[i], got[i], 0, what + "[" + i + "] (non-finite)");
            } else {
                assertEquals(want[i], got[i], rel * scale, what + "[" + i + "]");
            }
        }
    }

    private static Tensor randn(long seed, DType dt, int... shape) { return Tensor.randn(new Generator(seed), shape).to(dt); }

    // ------------------------------------------------------------------ reductions

    private static void reductions(DType dt, int rows, int n) {
        try (Scope s = Scope.open()) {
            Tensor x = randn(rows * 1_000_003L + n, dt, rows, n).mul(3);
            Tensor g = gpu(x);
            String at = dt + " [" + rows + ", " + n + "]";
            int[] last = {1};
            close(x.sum(last, false).toDoubleArray(), host(g.sum(last, false)), tol(dt), "sum " + at);
            close(x.max(last, false).toDoubleArray(), host(g.max(last, false)), 0, "max " + at);
            close(x.min(last, false).toDoubleArray(), host(g.min(last, false)), 0, "min " + at);
            assertArrayEquals(x.argmax(1, false).toLongArray(), g.argmax(1, false).to(CPU).toLongArray(), "argmax " + at);
            assertArrayEquals(x.argmin(1, false).toLongArray(), g.argmin(1, false).to(CPU).toLongArray(), "argmin " + at);
            close(x.logsumexp(last, false).toDoubleArray(), host(g.logsumexp(last, false)), tol(dt), "logsumexp " + at);
            assertEquals(DType.I64, g.argmax(1, false).dtype(), "argmax dtype");
        }
    }

    @Test
    void reductionsMatchTheCpuForShortAndLongRows() {
        Gpu.assumeAvailable();
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16, DType.F16}) {
            for (int n : new int[] {1, 5, 31, 33, 1000, 1024, 1027, 4099}) reductions(dt, 7, n);
        }
    }

    @Test
    void reductionsOfHugeRowsSplitAcrossBlocks() {
        Gpu.assumeAvailable();
        reductions(DType.F32, 3, 100_000);
        reductions(DType.BF16, 2, 100_003);
        reductions(DType.F64, 1, 1 << 20);
        try (Scope s = Scope.open()) {
            // A full-tensor sum is one row of every element.
            Tensor x = randn(5, DType.F32, 1 << 22);
            assertEquals(x.sum().item(), gpu(x).sum().to(CPU).item(), 1e-5 * Math.max(1, Math.abs(x.sum().item())) + 1e-2);
            assertEquals(x.max().item(), gpu(x).max().to(CPU).item(), 0);
        }
    }

    /**
     * Sums over leading dims of a dense tensor (bias gradients) are added column by column in place, in one launch
     * and no copy: the CPU's values in every float dtype, one to many rows, ragged column counts, the same bits twice.
     */
    @Test
    void sumsOverLeadingDimsReadTheTensorInPlace() {
        Gpu.assumeAvailable();
        Generator g = new Generator(41);
        int[][] shapes = {{1, 5}, {300, 70}, {3, 4, 33}, {5000, 3}, {2, 1, 64}};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            for (int[] shape : shapes) {
                Tensor x = Tensor.randn(g, shape).to(t);
                int lead = shape.length - 1;
                int[] dims = new int[lead];
                for (int i = 0; i < lead; i++) dims[i] = i;
                Tensor xg = gpu(x);
                double[] want = host(x.to(DType.F64).sum(dims, false).to(t)), got = host(xg.sum(dims, false));
                close(want, got, 4 * tol(t), t + " sum over the leading dims of " + java.util.Arrays.toString(shape));
                assertArrayEquals(got, host(xg.sum(dims, false)), "the same bits twice");
            }
        }
        dev.tessera.runtime.Profiler.reset();
        dev.tessera.runtime.Profiler.enable();
        try {
            gpu(Tensor.randn(g, 6, 7, 40)).sum(new int[] {0, 1}, false);
        } finally {
            dev.tessera.runtime.Profiler.disable();
        }
        var stats = dev.tessera.runtime.Profiler.snapshot();
        dev.tessera.runtime.Profiler.reset();
        assertEquals(1, stats.get("reduce.SUM_leading").calls(), "the column sum ran");
        assertTrue(stats.get("copy") == null, "no copy: " + stats.keySet());
    }

    @Test
    void integerReductions() {
        Gpu.assumeAvailable();
        try (Scope s = Scope.open()) {
            int rows = 5, n = 3001;
            int[] iv = new int[rows * n];
            long[] lv = new long[rows * n];
            java.util.Random r = new java.util.Random(7);
            for (int i = 0; i < iv.length; i++) {
                iv[i] = r.nextInt(2001) - 1000;
                lv[i] = r.nextLong() >> 20;
            }
            for (Tensor x : new Tensor[] {Tensor.of(iv, rows, n), Tensor.of(lv, rows, n), Tensor.of(iv, rows, n).narrow(1, 0, 17).contiguous()}) {
                Tensor g = gpu(x);
                int[] last = {1};
                Tensor cs = x.sum(last, false), gs = g.sum(last, false);
                assertEquals(cs.dtype(), gs.dtype());
                assertArrayEquals(cs.toLongArray(), gs.to(CPU).toLongArray(), "sum " + x.dtype());
                assertArrayEquals(x.max(last, false).toLongArray(), g.max(last, false).to(CPU).toLongArray(), "max " + x.dtype());
                assertArrayEquals(x.min(last, false).toLongArray(), g.min(last, false).to(CPU).toLongArray(), "min " + x.dtype());
                assertArrayEquals(x.argmax(1, false).toLongArray(), g.argmax(1, false).to(CPU).toLongArray(), "argmax " + x.dtype());
                assertArrayEquals(x.argmin(1, false).toLongArray(), g.argmin(1, false).to(CPU).toLongArray(), "argmin " + x.dtype());
                close(x.logsumexp(last, false).toDoubleArray(), host(g.logsumexp(last, false)), 1e-5, "logsumexp " + x.dtype());
            }
        }
    }

    @Test
    void reductionEdgeCases() {
        Gpu.assumeAvailable();
        double inf = Double.POSITIVE_INFINITY, nan = Double.NaN;
        try (Scope s = Scope.open()) {
            double[] v = {
                -inf, -inf, -inf, -inf, // all −inf
                1, nan, 3, nan, // NaN wins, first NaN index
                2, 5, 5, 1, // ties: the first
                1, inf, 2, -inf, // +inf
                1e30, -1e30, 1e30, 3, // large magnitudes
            };
            for (DType dt : new DType[] {DType.F32, DType.F64}) {
                Tensor x = Tensor.of(v, 5, 4).to(dt), g = gpu(x);
                int[] last = {1};
                close(x.max(last, false).toDoubleArray(), host(g.max(last, false)), 0, "max " + dt);
                close(x.min(last, false).toDoubleArray(), host(g.min(last, false)), 0, "min " + dt);
                assertArrayEquals(x.argmax(1, false).toLongArray(), g.argmax(1, false).to(CPU).toLongArray(), "argmax " + dt);
                assertArrayEquals(x.argmin(1, false).toLongArray(), g.argmin(1, false).to(CPU).toLongArray(), "argmin " + dt);
                close(x.logsumexp(last, false).toDoubleArray(), host(g.logsumexp(last, false)), tol(dt), "logsumexp " + dt);
                close(x.sum(last, false).toDoubleArray(), host(g.sum(last, false)), tol(dt), "sum " + dt);
            }
            // Empty rows sum to 0 on both devices.
            Tensor e = Tensor.zeros(3, 0);
            close(e.sum(new int[] {1}, false).toDoubleArray(), host(gpu(e).sum(new int[] {1}, false)), 0, "empty sum");
            // A long row whose NaN sits in a later chunk.
            double[] big = new double[200_000];
            for (int i = 0; i < big.length; i++) big[i] = Math.sin(i);
            big[150_001] = nan;
            big[170_000] = nan;
            Tensor b = Tensor.of(big, 1, big.length).to(DType.F32);
            assertArrayEquals(new long[] {150_001}, gpu(b).argmax(1, false).to(CPU).toLongArray());
            assertTrue(Double.isNaN(gpu(b).max().to(CPU).item()));
            assertTrue(Double.isNaN(gpu(b).logsumexp(new int[] {1}, false).to(CPU).item()));
        }
    }

    // ------------------------------------------------------------------ softmax

    private static void softmaxBothWays(DType dt, int rows, int n, double scale, boolean log) {
        try (Scope s = Scope.open()) {
            Tensor x0 = randn(rows * 31L + n + (log ? 1 : 0), dt, rows, n).mul(scale);
            Tensor dy = randn(rows * 17L + n, dt, rows, n);
            Tensor xc = x0.clone().requiresGrad(true), xg = gpu(x0).requiresGrad(true);
            Tensor yc = log ? xc.logSoftmax(-1) : xc.softmax(-1), yg = log ? xg.logSoftmax(-1) : xg.softmax(-1);
            String at = (log ? "log_softmax " : "softmax ") + dt + " [" + rows + ", " + n + "] ×" + scale;
            close(yc.toDoubleArray(), host(yg), tol(dt), at);
            yc.backward(dy);
            yg.backward(gpu(dy));
            close(xc.grad().toDoubleArray(), host(xg.grad()), tol(dt) * 10, "grad " + at);
        }
    }

    @Test
    void softmaxAndLogSoftmaxMatchTheCpuWithGradients() {
        Gpu.assumeAvailable();
        for (boolean log : new boolean[] {false, true}) {
            for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16}) {
                for (int n : new int[] {1, 3, 32, 37, 1000, 1024, 1025, 5003}) softmaxBothWays(dt, 9, n, 1, log);
            }
            softmaxBothWays(DType.F32, 2, 100_000, 3, log);
            softmaxBothWays(DType.F32, 4, 333, 1000, log); // large magnitudes: the max must be subtracted
            softmaxBothWays(DType.F32, 300, 1024, 1, log); // many rows of one warp each
        }
    }

    @Test
    void softmaxOfMaskedRows() {
        Gpu.assumeAvailable();
        double inf = Double.POSITIVE_INFINITY;
        for (int n : new int[] {4, 2000}) {
            try (Scope s = Scope.open()) {
                double[] v = new double[3 * n];
                for (int i = 0; i < n; i++) {
                    v[i] = -inf; // fully masked row
                    v[n + i] = i % 2 == 0 ? -inf : i * 0.01; // half masked
                    v[2 * n + i] = i == 1 ? inf : 0; // one +inf: NaN on the CPU
                }
                for (DType dt : new DType[] {DType.F32, DType.F64}) {
                    Tensor x = Tensor.of(v, 3, n).to(dt);
                    close(x.softmax(-1).toDoubleArray(), host(gpu(x).softmax(-1)), tol(dt), "masked softmax " + dt + " n=" + n);
                    close(x.logSoftmax(-1).toDoubleArray(), host(gpu(x).logSoftmax(-1)), tol(dt), "masked log_softmax " + dt + " n=" + n);
                    close(x.logsumexp(new int[] {1}, false).toDoubleArray(), host(gpu(x).logsumexp(new int[] {1}, false)), tol(dt),
                            "masked logsumexp " + dt + " n=" + n);
                }
            }
        }
    }

    @Test
    void softmaxAlongAnInnerDim() {
        Gpu.assumeAvailable();
        try (Scope s = Scope.open()) {
            Tensor x = randn(11, DType.F32, 6, 50, 7);
            close(x.softmax(1).toDoubleArray(), host(gpu(x).softmax(1)), 1e-5, "softmax dim 1");
            close(x.logSoftmax(0).toDoubleArray(), host(gpu(x).logSoftmax(0)), 1e-5, "log_softmax dim 0");
        }
    }

    // ------------------------------------------------------------------ LayerNorm / RMSNorm

    private static void norm(DType dt, int rows, int dim, boolean rms, boolean weight, boolean bias) {
        try (Scope s = Scope.open()) {
            long seed = rows * 131L + dim * 7L + (rms ? 1 : 0);
            Tensor x = randn(seed, dt, rows, dim).mul(2).add(0.5), w = randn(seed + 1, dt, dim), b = randn(seed + 2, dt, dim);
            Tensor dy = randn(seed + 3, dt, rows, dim);
            Tensor xc = x.clone().requiresGrad(true), wc = weight ? w.clone().requiresGrad(true) : null,
                    bc = bias ? b.clone().requiresGrad(true) : null;
            Tensor xg = gpu(x).requiresGrad(true), wg = weight ? gpu(w).requiresGrad(true) : null, bg = bias ? gpu(b).requiresGrad(true) : null;
            Tensor yc = rms ? Functional.rmsNorm(xc, wc, 1e-5) : Functional.layerNorm(xc, wc, bc, 1e-5);
            Tensor yg = rms ? Functional.rmsNorm(xg, wg, 1e-5) : Functional.layerNorm(xg, wg, bg, 1e-5);
            String at = (rms ? "rms_norm " : "layer_norm ") + dt + " [" + rows + ", " + dim + "] w=" + weight + " b=" + bias;
            close(yc.toDoubleArray(), host(yg), tol(dt), at);
            yc.backward(dy);
            yg.backward(gpu(dy));
            double gt = tol(dt) * 10;
            close(xc.grad().toDoubleArray(), host(xg.grad()), gt, "dx " + at);
            if (weight) close(wc.grad().toDoubleArray(), host(wg.grad()), gt, "dw " + at);
            if (bias) close(bc.grad().toDoubleArray(), host(bg.grad()), gt, "db " + at);
        }
    }

    @Test
    void layerNormMatchesTheCpuWithGradients() {
        Gpu.assumeAvailable();
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            for (int dim : new int[] {1, 7, 64, 130, 1024, 1030, 5000}) norm(dt, 37, dim, false, true, true);
        }
        norm(DType.F32, 300, 96, false, true, false);
        norm(DType.F32, 300, 96, false, false, true);
        norm(DType.F32, 5, 33, false, false, false);
        norm(DType.F32, 4096, 512, false, true, true); // many row blocks for dw / db
    }

    @Test
    void rmsNormMatchesTheCpuWithGradients() {
        Gpu.assumeAvailable();
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            for (int dim : new int[] {1, 7, 64, 130, 1024, 1030, 5000}) norm(dt, 37, dim, true, true, false);
        }
        norm(DType.F32, 300, 96, true, false, false);
        norm(DType.F32, 2, 100_000, true, true, false);
    }

    @Test
    void normOfLargeMagnitudes() {
        Gpu.assumeAvailable();
        try (Scope s = Scope.open()) {
            Tensor x = randn(3, DType.F32, 8, 300).mul(1000).add(1e4), w = randn(4, DType.F32, 300);
            close(Functional.layerNorm(x, w, null, 1e-5).toDoubleArray(), host(Functional.layerNorm(gpu(x), gpu(w), null, 1e-5)), 1e-4, "layer_norm big");
            close(Functional.rmsNorm(x, w, 1e-5).toDoubleArray(), host(Functional.rmsNorm(gpu(x), gpu(w), 1e-5)), 1e-4, "rms_norm big");
        }
    }
}
