package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.tessera.runtime.Autocast;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.DeviceOutOfMemoryException;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/** The device, its memory, transfers and cuBLAS products, checked against the CPU. Runs only where a GPU is. */
@Tag("gpu")
class CudaDeviceTest {
    static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() { Gpu.assumeAvailable(); }

    @Test
    void deviceQueryReportsAUsableGpu() {
        CudaDevice d = CudaDevice.get(0);
        System.out.println("[gpu] " + d.name() + ", compute capability " + d.computeCapability() / 10 + "." + d.computeCapability() % 10
                + ", " + d.multiprocessorCount() + " SMs, " + (d.totalMemory() >> 20) + " MiB, " + CudaProbe.result().describe());
        assertFalse(d.name().isBlank());
        assertTrue(d.computeCapability() >= 80, "Tessera's kernels need compute capability 8.0+");
        assertTrue(d.multiprocessorCount() > 0);
        assertTrue(d.totalMemory() > 1L << 30);
        assertEquals(d, CudaDevice.get(0));
    }

    @Test
    void roundTripsAreBitExactForEveryDtype() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(3), 5, 7);
            for (DType t : DType.values()) {
                Tensor h = x.mul(3).to(t);
                Tensor back = h.to(GPU).to(Device.cpu());
                assertEquals(GPU, h.to(GPU).device());
                assertArrayEquals(h.toDoubleArray(), back.toDoubleArray(), 0.0, "round trip of " + t);
            }
            // Views: transposed and narrowed tensors move as their logical values.
            Tensor v = x.t().narrow(0, 2, 4);
            assertArrayEquals(v.toFloatArray(), v.to(GPU).to(Device.cpu()).toFloatArray(), 0f);
            assertArrayEquals(v.toFloatArray(), v.to(GPU).toFloatArray(), 0f, "toFloatArray reads device tensors directly");
            assertEquals(x.get(1, 2), x.to(GPU).get(1, 2), 0.0);
            assertEquals(x.sum().item(), x.to(GPU).sum().item(), 1e-4);
        }
    }

    @Test
    void largeTransfersCrossTheStagingBuffersIntact() {
        try (Scope s = Scope.open()) {
            int n = (PinnedStaging.CHUNK / 4) * 3 + 12345; // more than three staging chunks, not a multiple of any
            Tensor x = Tensor.rand(new Generator(9), n);
            assertArrayEquals(x.toFloatArray(), x.to(GPU).to(Device.cpu()).toFloatArray(), 0f);
        }
    }

    @Test
    void closedScopesReturnDeviceMemoryToTheCache() {
        CudaDevice d = CudaDevice.get(0);
        long before = d.memoryStats().allocatedBytes();
        for (int i = 0; i < 200; i++) {
            try (Scope s = Scope.open()) {
                Tensor x = Tensor.ones(256, 1024).to(GPU);
                x.mul(2).add(x).sum().item();
            }
        }
        assertEquals(before, d.memoryStats().allocatedBytes(), "device memory held flat across 200 scopes");
        long reserved = d.memoryStats().reservedBytes();
        for (int i = 0; i < 50; i++) {
            try (Scope s = Scope.open()) {
                Tensor.ones(256, 1024).to(GPU).mul(2).sum().item();
            }
        }
        assertEquals(reserved, d.memoryStats().reservedBytes(), "no new driver allocations once warm");
    }

    @Test
    void outOfMemoryThrowsWithStatisticsAndTheDeviceStaysUsable() {
        CudaDevice d = CudaDevice.get(0);
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> d.allocator().allocate(1L << 50));
        assertTrue(e.getMessage().startsWith("cuda:0: out of memory allocating"), e.getMessage());
        assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        try (Scope s = Scope.open()) {
            assertEquals(6.0, Tensor.ones(2, 3).to(GPU).sum().item(), 0.0);
        }
    }

    @Test
    void mixingDevicesInOneOpNamesBothDevices() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.ones(3), b = Tensor.ones(3).to(GPU);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains("cuda:0"), e.getMessage());
        }
    }

    private static void assertClose(Tensor expected, Tensor actual, double rel, String what) {
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        assertEquals(e.length, a.length, what);
        double scale = 0;
        for (float v : e) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], a[i], rel * Math.max(1, scale), what + " at " + i);
        }
    }

    @Test
    void matmulMatchesTheCpuForLayoutsBatchesAndDtypes() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(5);
            Tensor a = Tensor.randn(g, 3, 33, 65), b = Tensor.randn(g, 3, 65, 17), w = Tensor.randn(g, 17, 65);
            assertClose(a.matmul(b), a.to(GPU).matmul(b.to(GPU)), 1e-5, "batched f32");
            assertClose(a.matmul(w.t()), a.to(GPU).matmul(w.to(GPU).t()), 1e-5, "transposed weight (op T)");
            assertClose(a.matmul(b.select(0, 1)), a.to(GPU).matmul(b.to(GPU).select(0, 1)), 1e-5, "broadcast batch (stride 0)");
            Tensor a64 = a.to(DType.F64), b64 = b.to(DType.F64);
            double[] e = a64.matmul(b64).toDoubleArray(), r = a64.to(GPU).matmul(b64.to(GPU)).toDoubleArray();
            for (int i = 0; i < e.length; i++) assertEquals(e[i], r[i], 1e-11 * Math.max(1, Math.abs(e[i])));
            Tensor bf = a.to(DType.BF16).to(GPU).matmul(b.to(DType.BF16).to(GPU));
            assertEquals(DType.BF16, bf.dtype());
            assertClose(a.to(DType.BF16).to(DType.F32).matmul(b.to(DType.BF16).to(DType.F32)), bf.to(DType.F32), 2e-2, "bf16");
            // A strided view with unit stride in neither inner dim is copied first, not refused.
            Tensor odd = Tensor.randn(g, 40, 60).slice(0, 0, 40, 2).slice(1, 0, 60, 2);
            Tensor m = Tensor.randn(g, 30, 8);
            assertClose(odd.matmul(m), odd.to(GPU).matmul(m.to(GPU)), 1e-5, "strided view");
            // k = 0: zeros.
            assertClose(Tensor.zeros(4, 0).matmul(Tensor.zeros(0, 3)), Tensor.zeros(4, 0).to(GPU).matmul(Tensor.zeros(0, 3).to(GPU)), 0, "k = 0");
        }
    }

    @Test
    void matmulGradientsOnCudaEqualTheCpu() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(6);
            Tensor a = Tensor.randn(g, 8, 16).requiresGrad(true), b = Tensor.randn(g, 16, 4).requiresGrad(true);
            a.matmul(b).mul(a.matmul(b)).sum().backward();
            Tensor ag = a.to(GPU).detach().requiresGrad(true), bg = b.to(GPU).detach().requiresGrad(true);
            ag.matmul(bg).mul(ag.matmul(bg)).sum().backward();
            assertClose(a.grad(), ag.grad(), 1e-5, "dA");
            assertClose(b.grad(), bg.grad(), 1e-5, "dB");
            // A move is differentiable: the gradient comes back to the CPU leaf.
            Tensor c = Tensor.randn(g, 8, 16).requiresGrad(true);
            c.to(GPU).mul(3).sum().backward();
            assertEquals(Device.cpu(), c.grad().device());
            assertClose(Tensor.full(3, DType.F32, 8, 16), c.grad(), 0, "grad through to(cuda)");
        }
    }

    @Test
    void autocastMultipliesInBf16AndReturnsF32GradientsToF32Weights() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(7);
            Tensor x = Tensor.randn(g, 32, 64).to(GPU), w = Tensor.randn(g, 64, 16).to(GPU).detach().requiresGrad(true);
            Tensor y;
            try (Autocast ac = Autocast.bf16()) {
                y = x.matmul(w);
            }
            assertEquals(DType.F32, y.dtype());
            assertClose(x.matmul(w).detach(), y.detach(), 3e-2, "autocast product");
            y.sum().backward();
            assertEquals(DType.F32, w.grad().dtype());
            assertClose(x.t().matmul(Tensor.ones(32, 16).to(GPU)), w.grad(), 3e-2, "autocast gradient");
        }
    }

    /**
     * Under autocast, a product of an F32 and a BF16 operand (as a backward multiplies an F32 gradient by a saved BF16
     * operand) casts only the F32 one: the bits of both cast to BF16, with one cast kernel instead of three.
     */
    @Test
    void autocastTakesABf16OperandAsItIs() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(9);
            Tensor a = Tensor.randn(g, 24, 40).to(GPU), b = Tensor.randn(g, 40, 12).to(DType.BF16).to(GPU);
            Tensor want, got;
            try (Autocast ac = Autocast.bf16()) {
                want = a.matmul(b.to(DType.F32)); // both F32: both cast to BF16
            }
            dev.tessera.runtime.Profiler.reset();
            dev.tessera.runtime.Profiler.enable();
            try (Autocast ac = Autocast.bf16()) {
                got = a.matmul(b);
                assertEquals(DType.F32, b.t().matmul(a.t()).dtype(), "the other order");
            } finally {
                dev.tessera.runtime.Profiler.disable();
            }
            assertEquals(DType.F32, got.dtype());
            assertArrayEquals(want.toDoubleArray(), got.toDoubleArray(), "the same bits as with the BF16 operand widened first");
            var copies = dev.tessera.runtime.Profiler.snapshot().get("copy");
            assertEquals(2, copies == null ? 0 : copies.calls(), "one cast per product (a, then a.t())");
            dev.tessera.runtime.Profiler.reset();
        }
    }

    /**
     * A linear layer under autocast casts x and the weight once and the incoming gradient once (three casts), keeps the
     * BF16 copies for its backward, and gives y and dx the bits of the composed {@code x.matmul(w.t()) + b}; dW is one
     * product over all rows in the weight's layout (no batched gradient to sum), equal to the float64 product of the
     * same BF16 values to F32 rounding.
     */
    @Test
    void autocastLinearCastsEachOperandOnce() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(10);
            Tensor x0 = Tensor.randn(g, 3, 5, 24), w0 = Tensor.randn(g, 10, 24), b0 = Tensor.randn(g, 10), mix = Tensor.randn(g, 3, 5, 10).to(GPU);
            Tensor x = x0.to(GPU).requiresGrad(true), w = w0.to(GPU).requiresGrad(true), b = b0.to(GPU).requiresGrad(true);
            Tensor xc = x0.to(GPU).requiresGrad(true), wc = w0.to(GPU).requiresGrad(true), bc = b0.to(GPU).requiresGrad(true);
            Tensor y;
            dev.tessera.runtime.Profiler.reset();
            dev.tessera.runtime.Profiler.enable();
            try (Autocast ac = Autocast.bf16()) {
                y = dev.tessera.runtime.Functional.linear(x, w, b);
                y.mul(mix).sum().backward();
            } finally {
                dev.tessera.runtime.Profiler.disable();
            }
            var copies = dev.tessera.runtime.Profiler.snapshot().get("copy");
            dev.tessera.runtime.Profiler.reset();
            assertEquals(3, copies == null ? 0 : copies.calls(), "copies: the casts of x, w and the incoming gradient");
            Tensor yc;
            try (Autocast ac = Autocast.bf16()) {
                yc = xc.matmul(wc.t()).add(bc);
                yc.mul(mix).sum().backward();
            }
            assertEquals(DType.F32, y.dtype());
            assertArrayEquals(yc.toDoubleArray(), y.toDoubleArray(), "y: the composed product's bits");
            assertArrayEquals(xc.grad().toDoubleArray(), x.grad().toDoubleArray(), "dx: the composed product's bits");
            assertArrayEquals(bc.grad().toDoubleArray(), b.grad().toDoubleArray(), "db");
            assertEquals(DType.F32, w.grad().dtype());
            assertTrue(w.grad().isContiguous(), "dW in the weight's own layout");
            double[] gb = mix.to(DType.BF16).to(Device.cpu()).toDoubleArray(), xb = x0.to(DType.BF16).toDoubleArray(), dw = w.grad().toDoubleArray();
            for (int o = 0; o < 10; o++) {
                for (int i = 0; i < 24; i++) {
                    double want = 0;
                    for (int r = 0; r < 15; r++) want += gb[r * 10 + o] * xb[r * 24 + i];
                    assertEquals(want, dw[o * 24 + i], 1e-5 * (1 + Math.abs(want)), "dW[" + o + ", " + i + "]");
                }
            }
        }
    }

    @Test
    void fusedCrossEntropyMatchesTheCpuIncludingIgnoredTargets() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(8);
            for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
                for (int c : new int[] {1, 7, 256, 5000}) {
                    Tensor logits = Tensor.randn(g, 2, 9, c).mul(4).to(t);
                    long[] tg = new long[18];
                    for (int i = 0; i < tg.length; i++) tg[i] = i % 5 == 3 ? -100 : (i * 31L) % c;
                    Tensor targets = Tensor.of(tg, 2, 9);
                    for (var red : dev.tessera.runtime.Functional.Reduction.values()) {
                        Tensor a = logits.detach().requiresGrad(true), b = logits.to(GPU).detach().requiresGrad(true);
                        Tensor la = dev.tessera.runtime.Functional.crossEntropy(a, targets, -100, red);
                        Tensor lb = dev.tessera.runtime.Functional.crossEntropy(b, targets, -100, red);
                        double tol = t == DType.BF16 ? 2e-2 : 1e-5;
                        assertClose(la.to(DType.F32), lb.to(DType.F32), tol, "loss " + t + " C=" + c + " " + red);
                        la.sum().backward();
                        lb.sum().backward();
                        assertClose(a.grad().to(DType.F32), b.grad().to(DType.F32), tol, "grad " + t + " C=" + c + " " + red);
                    }
                }
            }
        }
    }
}
