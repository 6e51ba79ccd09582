package dev.tessera.runtime.cuda;

import static dev.tessera.runtime.cuda.CudaExpect.close;
import static dev.tessera.runtime.cuda.CudaExpect.exact;
import static dev.tessera.runtime.cuda.CudaExpect.gpu;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * embedding, index_select, gather, scatter_add, cumsum and cumprod on cuda:0 against the CPU: forward values and
 * gradients. Selects and gathers are exact; atomic scatters match to rounding; scans accumulate in double like the
 * CPU. Out-of-range indices throw IndexOutOfBoundsException naming the op, also when the device kernel finds them.
 */
@Tag("gpu")
class CudaIndexingTest {
    private final Generator gen = new Generator(2024);

    private static long[] indices(Generator g, int n, int bound) { return Tensor.randint(g, 0, bound, n).toLongArray(); }

    @Test
    void embeddingAndIndexSelect() {
        Gpu.assumeAvailable();
        for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            double tol = dt == DType.F64 ? 1e-12 : dt == DType.F32 ? 1e-5 : 2e-2;
            Tensor table = Tensor.randn(gen, 50, 64).to(dt).requiresGrad(true);
            // duplicates on purpose: their gradients accumulate
            Tensor idx = Tensor.of(indices(gen, 40, 50), 8, 5);
            Tensor proj = Tensor.randn(gen, 8, 5, 64).to(dt);
            Tensor y = table.embedding(idx);
            y.mul(proj).sum().backward();

            Tensor tg = gpu(table, true);
            Tensor yg = tg.embedding(idx.to(CudaExpect.CUDA));
            exact("embedding " + dt, y.detach(), yg.detach());
            yg.mul(proj.to(CudaExpect.CUDA)).sum().backward();
            // One thread per gradient row sums its duplicates in index order from zero, as the CPU adds them: F32 and
            // F64 agree bit for bit; BF16 rounds once per row on the GPU, at every add on the CPU.
            if (dt == DType.BF16) close("embedding grad " + dt, table.grad(), tg.grad(), tol);
            else exact("embedding grad " + dt, table.grad(), tg.grad());

            // index_select along every dim of a 3-D tensor
            Tensor x = Tensor.randn(gen, 6, 7, 9).to(dt);
            for (int d = 0; d < 3; d++) {
                int size = x.shape()[d];
                Tensor ix = Tensor.of(new long[] {size - 1, 0, 2, 2, 1}, 5);
                exact("index_select dim " + d + " " + dt, x.indexSelect(d, ix), gpu(x, false).indexSelect(d, ix.to(CudaExpect.CUDA)));
            }
        }
    }

    @Test
    void gatherAndScatterAdd() {
        Gpu.assumeAvailable();
        for (DType dt : new DType[] {DType.F32, DType.F64}) {
            double tol = dt == DType.F64 ? 1e-12 : 1e-5;
            Tensor x = Tensor.randn(gen, 5, 6, 7).to(dt);
            for (int d = 0; d < 3; d++) {
                int[] is = x.shape();
                is[d] = 4;
                int n = is[0] * is[1] * is[2];
                for (DType it : new DType[] {DType.I64, DType.I32}) {
                    Tensor idx = Tensor.of(indices(gen, n, x.shape()[d]), is).to(it);
                    Tensor xc = x.detach().requiresGrad(true), xg = gpu(x, true);
                    Tensor proj = Tensor.randn(gen, is).to(dt);
                    Tensor y = xc.gather(d, idx);
                    y.mul(proj).sum().backward();
                    Tensor yg = xg.gather(d, idx.to(CudaExpect.CUDA));
                    exact("gather dim " + d + " " + dt + " " + it, y.detach(), yg.detach());
                    yg.mul(proj.to(CudaExpect.CUDA)).sum().backward();
                    close("gather grad dim " + d + " " + dt, xc.grad(), xg.grad(), tol);

                    Tensor src = Tensor.randn(gen, is).to(dt);
                    close("scatter_add dim " + d + " " + dt + " " + it, x.scatterAdd(d, idx, src),
                            gpu(x, false).scatterAdd(d, idx.to(CudaExpect.CUDA), src.to(CudaExpect.CUDA)), tol);
                }
            }
        }
    }

    @Test
    void scans() {
        Gpu.assumeAvailable();
        // short rows (one thread per row), rows just past a warp, and long rows over several block tiles
        int[][] shapes = {{33, 5}, {9, 40}, {3, 3000}, {2, 70000}};
        for (int[] s : shapes) {
            for (DType dt : new DType[] {DType.F32, DType.F64, DType.BF16}) {
                double tol = dt == DType.F64 ? 1e-10 : dt == DType.F32 ? 1e-5 : 1e-2;
                Tensor x = Tensor.randn(gen, s).to(dt);
                close("cumsum " + dt + " " + s[0] + "x" + s[1], x.cumsum(1), gpu(x, false).cumsum(1), tol);
                close("cumsum dim 0 " + dt, x.cumsum(0), gpu(x, false).cumsum(0), tol);
                // products of values near 1 stay finite over long rows
                Tensor p = Tensor.rand(gen, s).mul(0.02).add(0.99).to(dt);
                close("cumprod " + dt + " " + s[0] + "x" + s[1], p.cumprod(1), gpu(p, false).cumprod(1), tol);
            }
        }
        // integers scan into I64 exactly
        Tensor i = Tensor.of(new int[] {2_000_000_000, 2_000_000_000, 1, -7, 3}, 5);
        exact("cumsum I32", i.cumsum(0), gpu(i, false).cumsum(0));
    }

    @Test
    void cumprodGradientWithZeros() {
        Gpu.assumeAvailable();
        Tensor x = Tensor.of(new double[] {1, 2, 0, 4, 0.5, -1, 2, 0, 0, 5, 3, 1.5}, 3, 4);
        for (int d = 0; d < 2; d++) {
            Tensor xc = x.detach().requiresGrad(true), xg = gpu(x, true);
            Tensor proj = Tensor.randn(gen, 3, 4).to(DType.F64);
            xc.cumprod(d).mul(proj).sum().backward();
            xg.cumprod(d).mul(proj.to(CudaExpect.CUDA)).sum().backward();
            // the kernel repeats the CPU's double arithmetic in the same order
            exact("cumprod grad dim " + d, xc.grad(), xg.grad());
        }
        Tensor big = Tensor.rand(gen, 4, 300).mul(0.1).add(0.95).requiresGrad(true);
        Tensor bg = gpu(big, true);
        big.cumprod(1).sum().backward();
        bg.cumprod(1).sum().backward();
        close("cumprod grad F32 long rows", big.grad(), bg.grad(), 1e-5);
    }

    @Test
    void outOfRangeIndicesThrowNamingTheOp() {
        Gpu.assumeAvailable();
        Tensor x = gpu(Tensor.randn(gen, 4, 10), false);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> x.gather(1, Tensor.of(new long[] {0, 17, 1, 2}, 4, 1).to(CudaExpect.CUDA)));
        assertTrue(e.getMessage().contains("gather"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> x.scatterAdd(1, Tensor.of(new long[] {-1, 0, 0, 0}, 4, 1).to(CudaExpect.CUDA), gpu(Tensor.randn(gen, 4, 1), false)));
        assertTrue(e.getMessage().contains("scatter_add"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(0, Tensor.of(new long[] {4}, 1).to(CudaExpect.CUDA)));
        assertTrue(e.getMessage().contains("index_select"), e.getMessage());
    }

    /** The kernels' own bounds check, reached directly (the op layer would catch these indices first). */
    @Test
    void deviceBoundsCheck() {
        Gpu.assumeAvailable();
        CudaDevice d = CudaDevice.get(0);
        int outer = 2, size = 10, inner = 3, n = 4;
        long[] bad = new long[outer * n * inner];
        bad[7] = 17;
        try (DeviceBuffer x = d.temporary(4L * outer * size * inner); DeviceBuffer out = d.temporary(4L * bad.length);
             DeviceBuffer idx = d.upload(bad)) {
            d.zero(x.address(), 4L * outer * size * inner);
            DeviceOperand xo = new DeviceOperand(x.address(), DType.F32, new int[] {outer, size, inner}, new long[] {size * inner, inner, 1});
            DeviceOperand io = new DeviceOperand(idx.address(), DType.I64, new int[] {outer, n, inner}, new long[] {n * inner, inner, 1});
            DeviceOperand oo = new DeviceOperand(out.address(), DType.F32, new int[] {outer, n, inner}, new long[] {n * inner, inner, 1});
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                    () -> CudaIndexing.gather(d, xo, outer, size, inner, io, n, oo));
            assertTrue(e.getMessage().startsWith("gather: index 17 out of range"), e.getMessage());
            e = assertThrows(IndexOutOfBoundsException.class, () -> CudaIndexing.scatterAdd(d, xo, outer, size, inner, io, n, oo));
            assertTrue(e.getMessage().startsWith("scatter_add: index 17 out of range"), e.getMessage());
            // and a good call afterwards sees a clean flag
            bad[7] = 9;
            try (DeviceBuffer ok = d.upload(bad)) {
                CudaIndexing.gather(d, xo, outer, size, inner, new DeviceOperand(ok.address(), DType.I64, io.shape(), io.strides()), n, oo);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> CudaIndexing.selectRows(d, xo, outer, size, inner, new long[] {10}, oo));
        }
    }
}
