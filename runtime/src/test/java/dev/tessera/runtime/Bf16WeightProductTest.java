package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * F32 inputs times BF16 weights on the CPU (a model whose weights are kept in BF16): against Wᵀ the product reads
 * the BF16 values where they lie (a few rows' dot products, or the packed panels of the blocked GEMM, whole or with
 * its reduction split over the threads) and must equal, bit for bit, the product with the weight widened to F32
 * first — the route an F32 model with those (rounded) weights takes, so a BF16 model computes exactly what the F32
 * model with rounded weights does.
 */
class Bf16WeightProductTest {
    private final Generator gen = new Generator(31);

    /** W [n, k] in BF16, its values spread over several binades. */
    private Tensor weight(int n, int k) {
        try (Scope s = Scope.open()) {
            return s.keep(Tensor.randn(gen, n, k).mul(Tensor.randn(gen, n, k).exp()).to(DType.BF16));
        }
    }

    private static float[] bits(Tensor t) { return t.contiguous().toFloatArray(); }

    @Test
    void fewRowsAgainstTransposedWeightsEqualTheWidenedProductBitForBit() {
        int[] rowsCases = {1, 2, 3, 5, 8};
        int[] ks = {1, 3, 15, 16, 17, 33, 64, 130};
        int[] ns = {1, 3, 4, 5, 9, 37};
        for (int m : rowsCases) for (int k : ks) for (int n : ns) {
            try (Scope s = Scope.open()) {
                Tensor w = weight(n, k), x = Tensor.randn(gen, m, k);
                Tensor direct = x.matmul(w.t());
                Tensor widened = x.matmul(w.to(DType.F32).t());
                assertEquals(DType.F32, direct.dtype());
                assertArrayEquals(new int[] {m, n}, direct.shape());
                assertArrayEquals(bits(widened), bits(direct), "m=" + m + " k=" + k + " n=" + n);
            }
        }
    }

    @Test
    void batchDimensionsAndOneDimensionalInputsFoldIntoRows() {
        try (Scope s = Scope.open()) {
            Tensor w = weight(24, 40);
            Tensor x3 = Tensor.randn(gen, 2, 3, 40), x1 = Tensor.randn(gen, 40);
            Tensor y3 = x3.matmul(w.t()), y1 = x1.matmul(w.t());
            assertArrayEquals(new int[] {2, 3, 24}, y3.shape());
            assertArrayEquals(new int[] {24}, y1.shape());
            assertArrayEquals(bits(x3.matmul(w.to(DType.F32).t())), bits(y3));
            assertArrayEquals(bits(x1.matmul(w.to(DType.F32).t())), bits(y1));
            // An input that is a strided view (every other row of a wider batch) is read as its values, not its storage.
            Tensor wide = Tensor.randn(gen, 6, 40), view = wide.narrow(0, 1, 4);
            Tensor stepped = Tensor.randn(gen, 8, 40).narrow(0, 0, 8).transpose(0, 1).contiguous().transpose(0, 1).narrow(0, 2, 3);
            assertArrayEquals(bits(view.matmul(w.to(DType.F32).t())), bits(view.matmul(w.t())));
            assertArrayEquals(bits(stepped.matmul(w.to(DType.F32).t())), bits(stepped.matmul(w.t())));
        }
    }

    @Test
    void theBlockedRoutesEqualTheWidenedProductBitForBit() {
        // rows, k, n: packed panels on one thread, split over rows, over columns, and over the reduction (splitK);
        // column counts that leave partial panels; a few rows whose values are strided (packed rather than dotted).
        int[][] cases = {{9, 72, 48}, {40, 96, 37}, {300, 96, 64}, {12, 64, 700}, {16, 2048, 16}, {24, 3000, 40}, {257, 300, 33}};
        for (int[] c : cases) {
            try (Scope s = Scope.open()) {
                Tensor w = weight(c[2], c[1]), x = Tensor.randn(gen, c[0], c[1]);
                assertArrayEquals(bits(x.matmul(w.to(DType.F32).t())), bits(x.matmul(w.t())), java.util.Arrays.toString(c));
                Tensor cols = Tensor.randn(gen, c[1], c[0]).t(); // values a column apart
                assertArrayEquals(bits(cols.matmul(w.to(DType.F32).t())), bits(cols.matmul(w.t())), "strided " + java.util.Arrays.toString(c));
            }
        }
    }

    @Test
    void otherLayoutsWidenTheWeightAndMatchToo() {
        try (Scope s = Scope.open()) {
            Tensor wkn = weight(72, 48); // [k, n] row-major: not a transposed weight
            Tensor x2 = Tensor.randn(gen, 2, 72);
            assertArrayEquals(bits(x2.matmul(wkn.to(DType.F32))), bits(x2.matmul(wkn)));
        }
    }

    @Test
    void theWeightIsReadInPlaceNotWidenedIntoACopy() {
        try (Scope s = Scope.open()) {
            Tensor w = weight(512, 256);
            Tensor wt = w.t();
            for (int rows : new int[] {1, 8, 64}) {
                Tensor x = Tensor.randn(gen, rows, 256);
                x.matmul(wt); // warm
                long before = MemoryStats.cpuAllocations();
                Tensor y = x.matmul(wt);
                long after = MemoryStats.cpuAllocations();
                assertEquals(1, after - before, rows + " rows: one allocation (the result), no widened copy of the weight");
                assertEquals(512, y.size(1));
            }
        }
    }

    /**
     * On {@code cuda:0}, a few rows against a BF16 Wᵀ take linear_bf16.cu's kernel (the weight read in place, one
     * allocation: the result) and give the CPU's product to float rounding; more rows widen the weight for cuBLAS.
     */
    @Test
    @Tag("gpu")
    void onCudaAFewRowsReadTheBf16WeightInPlace() {
        dev.tessera.runtime.cuda.Gpu.assumeAvailable();
        Device gpu = Device.cuda(0);
        int[][] cases = {{1, 64, 96}, {3, 130, 37}, {8, 1000, 33}, {5, 31, 1}, {20, 48, 40}};
        for (int[] c : cases) {
            try (Scope s = Scope.open()) {
                Tensor w = weight(c[2], c[1]), x = Tensor.randn(gen, c[0], c[1]);
                float[] want = bits(x.matmul(w.t())), got;
                Tensor xg = x.to(gpu), wg = w.to(gpu).t();
                long before = RuntimeInfo.memory(gpu).allocations();
                Tensor y = xg.matmul(wg);
                long allocations = RuntimeInfo.memory(gpu).allocations() - before;
                assertEquals(DType.F32, y.dtype());
                got = bits(y.to(Device.cpu()));
                if (c[0] <= 8) assertEquals(1, allocations, java.util.Arrays.toString(c) + ": the result only, no widened weight");
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])), java.util.Arrays.toString(c) + " element " + i);
                }
            }
        }
    }

    @Test
    void gradientsAreThoseOfThePromotedProduct() {
        try (Scope s = Scope.open()) {
            Tensor w0 = weight(9, 20), x0 = Tensor.randn(gen, 3, 20), dy = Tensor.randn(gen, 3, 9);
            Tensor w = w0.detach().requiresGrad(true), x = x0.detach().requiresGrad(true);
            x.matmul(w.t()).backward(dy);
            Tensor wr = w0.detach().requiresGrad(true), xr = x0.detach().requiresGrad(true);
            xr.matmul(wr.to(DType.F32).t()).backward(dy);
            assertEquals(DType.BF16, w.grad().dtype(), "the BF16 weight's gradient is BF16, as the promotion's cast gives");
            assertArrayEquals(bits(xr.grad()), bits(x.grad()));
            assertArrayEquals(bits(wr.grad().to(DType.F32)), bits(w.grad().to(DType.F32)));
            // batch dimensions: the weight's gradient summed over them as the promotion's product sums it
            Tensor x3 = Tensor.randn(gen, 4, 50, 20), dy3 = Tensor.randn(gen, 4, 50, 9);
            Tensor w3 = w0.detach().requiresGrad(true), w3r = w0.detach().requiresGrad(true);
            x3.matmul(w3.t()).backward(dy3);
            x3.matmul(w3r.to(DType.F32).t()).backward(dy3);
            assertArrayEquals(bits(w3r.grad().to(DType.F32)), bits(w3.grad().to(DType.F32)));
            Tensor frozen = w0.detach(), x2 = x0.detach().requiresGrad(true);
            x2.matmul(frozen.t()).sum().backward();
            assertNull(frozen.grad());
            assertEquals(DType.F32, x2.grad().dtype());
        }
    }
}
