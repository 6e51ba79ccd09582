package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.tessera.runtime.Autocast;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.TesseraException;

/**
 * The host side of every CUDA runtime op, on a machine without a GPU: on a dry-run device each launch is checked
 * against its kernel's PTX signature (the entry exists; argument count and sizes match; block, grid and shared
 * memory limits) instead of running. Values are not checked here (nothing runs); the gpu suite checks them.
 */
class CudaDryRunTest {
    static final Device DRY = Device.cuda(7);
    static DryRunDriver driver;

    @BeforeAll
    static void install() {
        Assumptions.assumeFalse(PtxModules.index(PtxSource.RUNTIME).isEmpty(), "no PTX in this build (no nvcc): nothing to check launches against");
        driver = CudaDevice.installDryRun(7);
    }

    private static void launched(String... kernels) {
        List<String> seen = driver.kernelsLaunched();
        for (String k : kernels) {
            assertTrue(seen.stream().anyMatch(s -> s.startsWith(k)), "no launch of " + k + "* among " + seen);
        }
    }

    @Test
    void ptxSignaturesAreParsed() {
        var sigs = KernelSignature.parse("m", ".visible .entry k_f32(\n .param .u64 k_f32_param_0,\n .param .u32 k_f32_param_1,\n"
                + " .param .align 8 .b8 k_f32_param_2[136],\n .param .f64 k_f32_param_3\n)\n{\n}");
        assertEquals(List.of(8, 4, 136, 8), java.util.Arrays.stream(sigs.get("k_f32").sizes()).boxed().toList());
    }

    @Test
    void launchBoundsAndResourcesAreRead() {
        var sigs = KernelSignature.parse("m", ".visible .entry a(\n .param .u64 a_param_0\n)\n.maxntid 256, 1, 1\n{\n}\n"
                + ".visible .entry b(\n .param .u64 b_param_0\n)\n.reqntid 32, 4\n{\n}\n.visible .entry c()\n{\n}");
        assertEquals(256, sigs.get("a").maxThreads());
        assertEquals(128, sigs.get("b").maxThreads());
        assertEquals(0, sigs.get("c").maxThreads());
        var withResources = KernelSignature.withResources(sigs, "a 168 0\nb 40 18432\n");
        assertEquals(168, withResources.get("a").registers());
        assertEquals(18432, withResources.get("b").staticShared());
        assertEquals(-1, withResources.get("c").registers());
    }

    @Test
    void launchesAGpuWouldRefuseAreCaught() {
        var k = new KernelSignature("m", "k", new int[0], 512, 168, 18 * 1024);
        int[] one = {1, 1, 1};
        assertEquals(null, k.launchRefusal(new int[] {1 << 30, 65_535, 1}, new int[] {384, 1, 1}, 30 * 1024, 0));
        // 168 registers round to 5,376 per warp: 12 warps fit in 65,536, 13 do not.
        assertTrue(k.launchRefusal(one, new int[] {416, 1, 1}, 0, 0).contains("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"));
        assertTrue(k.launchRefusal(one, new int[] {1024, 1, 1}, 0, 0).contains("__launch_bounds__ of 512"));
        assertTrue(k.launchRefusal(new int[] {1, 65_536, 1}, one, 0, 0).contains("grid y and z"));
        assertTrue(k.launchRefusal(one, new int[] {1, 1, 65}, 0, 0).contains("at most 1024 threads"));
        assertTrue(k.launchRefusal(new int[] {0, 1, 1}, one, 0, 0).contains("empty"));
        // 18 KiB static leave 30 KiB of the default 48 KiB; opting in raises it, up to 227 KiB in all.
        assertTrue(k.launchRefusal(one, one, 31 * 1024, 0).contains("without opting in"));
        assertEquals(null, k.launchRefusal(one, one, 100 * 1024, 100 * 1024));
        assertTrue(k.launchRefusal(one, one, 101 * 1024, 100 * 1024).contains("opted in to"));
        assertTrue(k.launchRefusal(one, one, 210 * 1024, 220 * 1024).contains("dynamic shared memory"));
        // and cuFuncSetAttribute would refuse that opt-in in the first place
        IllegalStateException optIn = assertThrows(IllegalStateException.class, () -> new DryRunDriver().setMaxDynamicShared(k, "k", 220 * 1024));
        assertTrue(optIn.getMessage().contains("18432 B of static shared memory"), optIn.getMessage());
    }

    @Test
    void everyShippedCubinHasItsResourceRecord() {
        for (String module : PtxModules.index(PtxSource.RUNTIME)) {
            String r = PtxModules.resources(PtxSource.RUNTIME, module, 90);
            assertTrue(r != null && !r.isBlank(), "no " + module + ".sm_90.resources in the jar");
            byte[] ptx = PtxModules.load(PtxSource.RUNTIME, module, 90);
            var sigs = KernelSignature.withResources(KernelSignature.parse(module, new String(ptx, 0, ptx.length - 1, java.nio.charset.StandardCharsets.US_ASCII)), r);
            for (var s : sigs.values()) assertTrue(s.registers() > 0, module + ": no register count for " + s.name());
        }
    }

    @Test
    void aLaunchThatDoesNotMatchItsKernelIsCaught() {
        CudaDevice d = CudaDevice.get(7);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.kernel("device", "empty_any").grid(1).block(32).i32(3).launch());
        assertTrue(e.getMessage().contains("empty_any takes 0 arguments"), e.getMessage());
        IllegalStateException missing = assertThrows(IllegalStateException.class, () -> d.kernel("device", "no_such_kernel_f32"));
        assertTrue(missing.getMessage().contains("'no_such_kernel_f32' is not in module 'device'"), missing.getMessage());
        IllegalArgumentException shared = assertThrows(IllegalArgumentException.class,
                () -> d.kernel("device", "empty_any").grid(1).block(32).sharedBytes(64 * 1024).launch());
        assertTrue(shared.getMessage().contains("exceeds the kernel's limit"), shared.getMessage());
        try (DeviceBuffer ok = d.temporary(64)) {
            IllegalStateException wild = assertThrows(IllegalStateException.class, () -> d.kernel("cross_entropy", "cross_entropy_forward_f32")
                    .grid(1).block(32).ptr(ok.address()).ptr(0x1234).i64(1).i32(1).i64(-100).ptr(ok.address()).ptr(ok.address()).launch());
            assertTrue(wild.getMessage().contains("argument 1 = 0x1234 is not inside any live device allocation"), wild.getMessage());
        }
    }

    @Test
    void elementwiseOpsLaunchMatchingKernels() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(1);
            Tensor a = Tensor.randn(g, 6, 10).to(DRY), b = Tensor.randn(g, 10).to(DRY);
            a.add(b).mul(a).sub(2).div(b.add(3)).exp().log1p().tanh().sigmoid().relu().gelu().silu().abs().sqrt().clamp(-1, 1).pow(2);
            a.t().contiguous().maximum(a.t());
            a.where(a.lt(b), a.neg());
            a.where(a.gt(Tensor.zeros(DType.F32, DRY)), b);
            for (DType t : DType.values()) a.to(t).to(DType.F32);
            a.to(DType.BF16).add(a.to(DType.BF16));
            a.to(DType.I64).add(a.to(DType.I64));
            Tensor.full(3, DType.F32, DRY, 4, 4);
            Tensor.zeros(DType.BF16, DRY, 5);
            a.to(Device.cpu());
            launched("binary", "unary", "compare", "fill", "copy");
        }
    }

    @Test
    void rowOpsAndTheirGradientsLaunchMatchingKernels() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(2);
            Tensor x = Tensor.randn(g, 8, 33).to(DRY).detach().requiresGrad(true);
            Tensor w = Tensor.ones(33).to(DRY).detach().requiresGrad(true), bias = Tensor.zeros(DType.F32, DRY, 33).requiresGrad(true);
            Tensor y = x.softmax(-1).add(x.logSoftmax(-1)).add(Functional.layerNorm(x, w, bias, 1e-5)).add(Functional.rmsNorm(x, w, 1e-6));
            y.sum().backward();
            x.max(new int[] {1}, false);
            x.argmax(1, false);
            x.logsumexp(new int[] {1}, true);
            Tensor.randn(g, 3, 100000).to(DRY).sum();
            launched("reduce", "softmax", "norm_forward", "norm_backward");
        }
    }

    /** A training step's embedding: its indices go up once, grouped by row, and serve the backward's scatter too. */
    @Test
    void embeddingUploadsItsIndicesOnce() {
        try (Scope s = Scope.open()) {
            Tensor table = Tensor.randn(new Generator(4), 9, 6).to(DRY).detach().requiresGrad(true);
            Tensor idx = Tensor.of(new long[] {3, 1, 3, 0, 8, 1}, 2, 3); // host bytes, as a batch is
            long up = driver.uploads(), down = driver.readBacks();
            Tensor y = table.embedding(idx);
            assertEquals(up + 1, driver.uploads(), "the forward uploads the indices' plan");
            y.sum().backward();
            assertEquals(up + 1, driver.uploads(), "the backward reuses it");
            assertEquals(down, driver.readBacks(), "nothing is read back");
            launched("select_rows_f32", "add_rows_sorted_f32");
        }
    }

    @Test
    void indexingScansConvAndRandomLaunchMatchingKernels() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(3);
            Tensor x = Tensor.randn(g, 5, 7).to(DRY).detach().requiresGrad(true);
            Tensor idx = Tensor.of(new long[] {0, 4, 2}, 3).to(DRY);
            x.indexSelect(0, idx).sum().backward();
            Tensor gi = Tensor.of(new long[] {1, 0, 6, 2, 3, 5, 4, 0, 1, 2}, 5, 2).to(DRY);
            x.gather(1, gi);
            x.cumsum(1);
            x.cumprod(1);
            Tensor c = Tensor.randn(g, 2, 9, 4).to(DRY).detach().requiresGrad(true);
            Tensor cw = Tensor.randn(g, 4, 3).to(DRY).detach().requiresGrad(true);
            Functional.causalConv1d(c, cw, Tensor.zeros(DType.F32, DRY, 4)).sum().backward();
            Tensor.rand(g, DRY, 1000);
            Tensor.randn(g, DRY, 1000);
            Tensor logits = Tensor.randn(g, 4, 11).to(DRY).detach().requiresGrad(true);
            Functional.crossEntropy(logits, Tensor.of(new long[] {1, 2, 3, 10}, 4)).backward();
            launched("select_rows", "add_rows", "gather", "scan_rows", "conv1d", "uniform", "normal", "cross_entropy_forward", "cross_entropy_backward");
        }
    }

    @Test
    void matmulLayoutsReachCublasWithValidLeadingDimensions() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(4);
            Tensor a = Tensor.randn(g, 3, 5, 7).to(DRY).detach().requiresGrad(true), w = Tensor.randn(g, 4, 7).to(DRY).detach().requiresGrad(true);
            a.matmul(w.t()).sum().backward();
            a.matmul(Tensor.randn(g, 7, 2).to(DRY));
            a.to(DType.BF16).matmul(Tensor.randn(g, 3, 7, 6).to(DRY).to(DType.BF16));
            Tensor.randn(g, 1, 7).to(DRY).matmul(Tensor.randn(g, 7, 1).to(DRY));
            Tensor.randn(g, 8, 9).to(DRY).slice(0, 0, 8, 2).slice(1, 0, 9, 2).matmul(Tensor.randn(g, 5, 3).to(DRY));
            launched("cublasGemmStridedBatchedEx");
            assertTrue(driver.kernelsLaunched().contains("cublasGemmStridedBatchedEx bf16"), "BF16 operands: " + driver.kernelsLaunched());
            driver.clear();
            try (Autocast ac = Autocast.bf16()) {
                Tensor y = a.matmul(w.t());
                assertEquals(DType.F32, y.dtype(), "cuBLAS writes the F32 result of BF16 operands");
                y.sum().backward(); // F32 tensors, BF16 products forward and backward
                assertEquals(DType.F32, w.grad().dtype());
            }
            assertEquals(List.of("cublasGemmStridedBatchedEx bf16"), driver.kernelsLaunched().stream().filter(k -> k.startsWith("cublas")).toList());
            driver.clear();
            Autocast.allowTf32(true);
            try {
                a.matmul(w.t());
            } finally {
                Autocast.allowTf32(false);
            }
            a.matmul(w.t());
            assertEquals(List.of("cublasGemmStridedBatchedEx tf32", "cublasGemmStridedBatchedEx"),
                    driver.kernelsLaunched().stream().filter(k -> k.startsWith("cublas")).toList());
        }
    }

    @Test
    void memoryComesBackWhenScopesClose() {
        CudaDevice d = CudaDevice.get(7);
        long before = d.memoryStats().allocatedBytes();
        for (int i = 0; i < 20; i++) {
            try (Scope s = Scope.open()) {
                Tensor.ones(64, 64).to(DRY).add(1);
            }
        }
        assertEquals(before, d.memoryStats().allocatedBytes());
    }
}
