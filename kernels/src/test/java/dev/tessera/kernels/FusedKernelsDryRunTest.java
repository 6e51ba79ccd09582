package dev.tessera.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.kernels.attention.KvCache;
import dev.tessera.kernels.attention.ProbabilisticAttention;
import dev.tessera.kernels.rotary.Rotary;
import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.kernels.routing.Chunks;
import dev.tessera.kernels.routing.RoutingState;
import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.DryRunDriver;
import dev.tessera.runtime.cuda.PtxModules;

/**
 * The host side of the fused kernels' CUDA paths without a GPU: on a dry-run device every launch is checked against
 * its kernel's PTX signature (the entry exists, argument count and sizes match, launch limits hold) instead of
 * running. Values are meaningless here (nothing runs, device memory stays zero); the gpu suite checks them.
 */
class FusedKernelsDryRunTest {
    static final Device DRY = Device.cuda(7);
    static DryRunDriver driver;

    @BeforeAll
    static void install() {
        Assumptions.assumeFalse(PtxModules.index(FusedPtx.SOURCE).isEmpty(), "no PTX in this build (no nvcc): nothing to check launches against");
        dev.tessera.kernels.testing.DryRunDevices.install(7); // with the routing's host stand-ins: chunks get counts
        driver = CudaDevice.installDryRun(7);
    }

    @Test
    void everyEntryOfEveryCubinHasItsResourceRecord() {
        // Without it the dry run could not check registers and shared memory per block for that kernel.
        for (String module : PtxModules.index(FusedPtx.SOURCE)) {
            String record = PtxModules.resources(FusedPtx.SOURCE, module, 90);
            assertTrue(record != null, "no " + module + ".sm_90.resources in the jar");
            java.util.Set<String> recorded = record.lines().map(l -> l.trim().split("\\s+")[0]).collect(java.util.stream.Collectors.toSet());
            for (String entry : PtxModules.entries(PtxModules.load(FusedPtx.SOURCE, module, 90))) {
                assertTrue(recorded.contains(entry), module + ": no resource record for " + entry);
            }
        }
    }

    private static void launched(String... prefixes) {
        List<String> seen = driver.kernelsLaunched();
        for (String k : prefixes) assertTrue(seen.stream().anyMatch(s -> s.startsWith(k)), "no launch of " + k + "* among " + seen);
    }

    private static Tensor dev(Tensor t) { return t.to(DRY).detach(); }

    @Test
    void swiglu() {
        try (Scope s = Scope.open()) {
            for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
                Tensor x = dev(Tensor.randn(new Generator(1), 5, 14).to(t)).requiresGrad(true);
                SwiGlu.apply(x).sum().backward();
            }
            launched("swiglu_forward_f32", "swiglu_backward_bf16", "swiglu_forward_f64");
        }
    }

    @Test
    void rotary() {
        try (Scope s = Scope.open()) {
            for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
                DType tables = t == DType.F64 ? DType.F64 : DType.F32;
                Tensor x = dev(Tensor.randn(new Generator(1), 2, 3, 5, 8).to(t)).requiresGrad(true);
                Rotary.apply(x, dev(Tensor.ones(tables, 5, 2)), dev(Tensor.zeros(tables, 5, 2))).sum().backward();
            }
            launched("rotary_f32", "rotary_bf16", "rotary_f64");
        }
    }

    @Test
    void adamwStepAndSquaredNorm() {
        try (Scope s = Scope.open()) {
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                Tensor w = dev(Tensor.randn(new Generator(1), 3, 7).to(t)), g = dev(Tensor.randn(new Generator(2), 3, 7).to(t));
                dev.tessera.kernels.optim.AdamWStep.apply(w, g, dev(Tensor.zeros(3, 7).to(t)), dev(Tensor.zeros(3, 7).to(t)),
                        new dev.tessera.kernels.optim.AdamWStep.Hyper(1e-3, 0.9, 0.95, 1e-8, 0.1, 0.1, 0.05));
            }
            dev.tessera.kernels.optim.SquaredNorm.of(java.util.List.of(dev(Tensor.randn(new Generator(3), 5000)),
                    dev(Tensor.randn(new Generator(4), 7).to(DType.BF16)), dev(Tensor.zeros(0))));
            launched("adamw_step_f32", "adamw_step_f64", "sq_partials_f32", "sq_partials_bf16", "sq_finish");
        }
    }

    @Test
    void selectiveScanForwardBackwardAndStep() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(2);
            int b = 2, l = 37, h = 4, p = 8, n = 16, grp = 2;
            for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
                Tensor x = dev(Tensor.randn(g, b, l, h, p).to(t)).requiresGrad(true);
                Tensor dt = dev(Tensor.rand(g, b, l, h).to(t)).requiresGrad(true);
                Tensor a = dev(Tensor.rand(g, h).neg().to(t)).requiresGrad(true);
                Tensor bm = dev(Tensor.randn(g, b, l, grp, n).to(t)).requiresGrad(true);
                Tensor cm = dev(Tensor.randn(g, b, l, grp, n).to(t)).requiresGrad(true);
                Tensor z = dev(Tensor.randn(g, b, l, h, p).to(t)).requiresGrad(true);
                Tensor d = dev(Tensor.ones(h).to(t)).requiresGrad(true);
                Tensor bias = dev(Tensor.zeros(h).to(t)).requiresGrad(true);
                ScanOptions o = ScanOptions.builder().z(z).dSkip(d).dtBias(bias).softplus(true).returnFinalState(true).build();
                SelectiveScan.apply(x, dt, a, bm, cm, o).y().sum().backward();
            }
            Tensor state = dev(Tensor.zeros(2, 4, 8, 16));
            SelectiveScan.step(state, dev(Tensor.randn(g, 2, 4, 8)), dev(Tensor.rand(g, 2, 4)), dev(Tensor.rand(g, 4).neg()),
                    dev(Tensor.randn(g, 2, 2, 16)), dev(Tensor.randn(g, 2, 2, 16)), ScanOptions.NONE);
            Tensor a1 = dev(Tensor.rand(g, 6, 16).neg()).requiresGrad(true);
            Tensor u = dev(Tensor.randn(g, 2, 20, 6)).requiresGrad(true), delta = dev(Tensor.rand(g, 2, 20, 6)).requiresGrad(true);
            SelectiveScan.mamba1(u, delta, a1, dev(Tensor.randn(g, 2, 20, 1, 16)), dev(Tensor.randn(g, 2, 20, 1, 16)), ScanOptions.NONE)
                    .y().sum().backward();
            launched("ss_forward", "ss_backward");
        }
    }

    @Test
    void flashAttentionVariantsAndDecode() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(3);
            for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
                for (int hd : new int[] {32, 64, 128}) {
                    Tensor q = dev(Tensor.randn(g, 2, 4, 70, hd).to(t)).requiresGrad(true);
                    Tensor k = dev(Tensor.randn(g, 2, 2, 70, hd).to(t)).requiresGrad(true);
                    Tensor v = dev(Tensor.randn(g, 2, 2, 70, hd).to(t)).requiresGrad(true);
                    FlashAttention.apply(q, k, v, AttentionOptions.builder().causal(true).build()).sum().backward();
                    FlashAttention.apply(q, k, v, AttentionOptions.builder().causal(true).window(16).build());
                    FlashAttention.apply(q, k, v, AttentionOptions.defaults());
                }
            }
            Tensor q = dev(Tensor.randn(g, 2, 4, 30, 32)).requiresGrad(true);
            Tensor k = dev(Tensor.randn(g, 2, 4, 30, 32)).requiresGrad(true), v = dev(Tensor.randn(g, 2, 4, 30, 32)).requiresGrad(true);
            Tensor bias = dev(Tensor.randn(g, 2, 30)).requiresGrad(true);
            FlashAttention.apply(q, k, v, AttentionOptions.builder().causal(true).keyBias(bias).build()).sum().backward();
            Tensor logp = dev(Tensor.rand(g, 2, 30).add(0.01).log()).requiresGrad(true);
            ProbabilisticAttention.apply(q, k, v, logp).sum().backward();
            Tensor one = dev(Tensor.randn(g, 1, 4, 30, 32)).requiresGrad(true);
            FlashAttention.apply(one, dev(Tensor.randn(g, 1, 4, 30, 32)), dev(Tensor.randn(g, 1, 4, 30, 32)),
                    AttentionOptions.builder().causal(true).cuSeqlens(0, 12, 30).build()).sum().backward();
            try (KvCache cache = KvCache.create(2, 2, 16, 64, DType.F32, DRY)) {
                for (int step = 0; step < 3; step++) {
                    cache.append(dev(Tensor.randn(g, 2, 2, 1, 64)), dev(Tensor.randn(g, 2, 2, 1, 64)));
                    Tensor qStep = dev(Tensor.randn(g, 2, 4, 1, 64));
                    long up = driver.uploads();
                    cache.attend(qStep);
                    assertEquals(up, driver.uploads(), "rows of one length decode without uploading their key lengths");
                }
                cache.append(dev(Tensor.randn(g, 2, 2, 1, 64)), dev(Tensor.randn(g, 2, 2, 1, 64)), new int[] {1, 0});
                Tensor qStep = dev(Tensor.randn(g, 2, 4, 1, 64));
                long up = driver.uploads();
                cache.attend(qStep);
                assertEquals(up + 1, driver.uploads(), "ragged rows upload their key lengths");
            }
            launched("fa_forward", "fa_backward", "fa_decode", "fa_forward_mma64_bf16", "fa_forward_mma128_bf16");
        }
    }

    @Test
    void chunkRoutingStagesAndStep() {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(4);
            for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
                Tensor q = dev(Tensor.randn(g, 3, 40, 24).to(t)).requiresGrad(true);
                Tensor k = dev(Tensor.randn(g, 3, 40, 24).to(t)).requiresGrad(true);
                var r = ChunkRouter.route(q, k);
                r.p().sum().backward();
                // Boundaries decided on the host (the dry run computes nothing), so the chunk and dechunk paths see chunks.
                boolean[] bits = new boolean[3 * 40];
                for (int i = 0; i < bits.length; i++) bits[i] = i % 40 == 0 || i % 5 == 2;
                Tensor b = dev(Tensor.of(bits, 3, 40));
                Tensor x = dev(Tensor.randn(g, 3, 40, 24).to(t)).requiresGrad(true);
                Chunks ch = ChunkRouter.chunk(x, b);
                Tensor p = dev(Tensor.rand(g, 3, 40).to(t)).requiresGrad(true);
                Tensor c = dev(Tensor.rand(g, 3, 40).to(t));
                ChunkRouter.dechunk(ch.x(), p, b, c).sum().backward();
                ChunkRouter.ratioLoss(b, p, 4).backward();
                // What chunk read back travels with its chunks: the dechunk, a nested stage's routing and its ratio
                // loss then wait for nothing. (The dry run's route marks the sequence starts: one chunk per row.)
                long read = driver.readBacks();
                Chunks outer = ChunkRouter.chunk(x.detach(), r.b());
                assertEquals(read + 1, driver.readBacks(), t + ": chunk reads its counts back once");
                assertEquals(1, outer.x().size(1), t + ": chunks per row");
                Tensor qc = dev(Tensor.randn(g, 3, outer.x().size(1), 24).to(t)), kc = dev(Tensor.randn(g, 3, outer.x().size(1), 24).to(t));
                ChunkRouter.dechunk(outer.x(), outer, r.p().detach(), r.c().detach());
                var nested = ChunkRouter.routeChunks(qc, kc, outer);
                ChunkRouter.ratioLoss(nested.b(), nested.p(), 3, outer.mask());
                assertEquals(read + 1, driver.readBacks(), t + ": read back from the device after chunk");
            }
            RoutingState st = RoutingState.create(3, 24, DType.F32, DRY);
            var all = st.route(dev(Tensor.randn(g, 3, 24)), dev(Tensor.randn(g, 3, 24)));
            assertEquals(DRY, st.dechunk(all.anyBoundary() ? dev(Tensor.randn(g, all.boundaryRows().length, 24)) : null).device());
            // Two of the three rows step (a nested stage's rows whose outer chunk closed): their state rows are
            // gathered for the kernels and written back, all on the device.
            var some = st.route(dev(Tensor.randn(g, 2, 24)), dev(Tensor.randn(g, 2, 24)), dev.tessera.runtime.RowSubset.of(3, 0, 2));
            assertEquals(2, some.p().size(0));
            Tensor out = st.dechunk(some.anyBoundary() ? dev(Tensor.randn(g, some.boundaryRows().length, 24)) : null);
            assertEquals(DRY, out.device());
            assertEquals(java.util.List.of(2, 24), java.util.Arrays.stream(out.shape()).boxed().toList());
            launched("route", "chunk", "route_step", "dechunk_step");
        }
    }
}
