package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA selective scan (native/cuda/kernels/selective_scan.cu) against the float64 reference: y, the final state
 * and every gradient through the op's autograd, in F64 (tight), F32 and BF16 (inputs rounded to BF16 first, so only
 * the kernel's arithmetic and the BF16 outputs differ). Lengths are chosen to cross the forward's chunks (≥ 64), the
 * backward's checkpoints (up to 128) and its sub-blocks (8) with ragged tails; packed starts fall inside chunks.
 */
@Tag("gpu")
class SelectiveScanCudaTest {
    private static final Device GPU = Device.cuda(0);
    private static final DType[] ALL = {DType.F64, DType.F32, DType.BF16};

    @BeforeEach
    void needsGpu() {
        CudaTests.assumeGpu();
    }

    private static double fwdTol(DType t) { return t == DType.F64 ? 1e-10 : t == DType.F32 ? 1e-4 : 3e-2; }

    private static double gradTol(DType t) { return t == DType.F64 ? 1e-9 : t == DType.F32 ? 5e-4 : 6e-2; }

    private static Tensor cpu(Tensor t) { return t.to(Device.cpu()); }

    /** Runs the fixture on the reference (F64, CPU) and on CUDA in dtype t, and compares outputs and gradients. */
    static void compare(String name, ScanFixture f, DType t) {
        try (Scope s = Scope.open()) {
            Tensor[] ref = new Tensor[ScanProblem.COUNT], dev = new Tensor[ScanProblem.COUNT];
            for (int i = 0; i < ref.length; i++) {
                if (f.f32[i] == null) continue;
                Tensor q = f.f32[i].to(t);
                ref[i] = q.to(DType.F64).clone().requiresGrad(true);
                dev[i] = q.to(GPU).detach().requiresGrad(true);
            }
            ScanResult r64 = f.run(ref), rg = f.run(dev);
            assertTrue(rg.y().device().equals(GPU), name + ": y stays on the GPU");
            String tag = name + " " + t;
            Close.assertClose(tag + " y", r64.y(), cpu(rg.y()), fwdTol(t));
            if (f.withFinal) Close.assertClose(tag + " final state", r64.finalState(), cpu(rg.finalState()), fwdTol(t));
            Generator g = new Generator(7);
            Tensor py = Tensor.randn(g, r64.y().shape()).to(t);
            Tensor lossRef = r64.y().mul(py.to(DType.F64)).sum(), lossDev = rg.y().mul(py.to(GPU)).sum();
            if (f.withFinal) {
                Tensor ps = Tensor.randn(g, r64.finalState().shape()).to(t);
                lossRef = lossRef.add(r64.finalState().mul(ps.to(DType.F64)).sum());
                lossDev = lossDev.add(rg.finalState().mul(ps.to(GPU)).sum());
            }
            lossRef.backward();
            lossDev.backward();
            for (int i = 0; i < ref.length; i++) {
                if (ref[i] == null) continue;
                String what = tag + " d" + ScanProblem.NAMES[i];
                assertNotNull(dev[i].grad(), what);
                Close.assertClose(what, ref[i].grad(), cpu(dev[i].grad()), gradTol(t));
            }
        }
    }

    private static void everyDtype(String name, ScanFixture f) {
        for (DType t : ALL) compare(name, f, t);
    }

    private static ScanFixture with(ScanFixture f, Consumer<ScanFixture> set) {
        set.accept(f);
        return f.draw();
    }

    @Test
    void everyOptionGroupsOfTwo() {
        everyDtype("all, G=2", new ScanFixture(11, 2, 150, 4, 8, 2, 20).all().draw());
    }

    @Test
    void noOptions() {
        everyDtype("plain", new ScanFixture(12, 2, 70, 2, 16, 1, 32).draw());
    }

    @Test
    void eachOptionAlone() {
        everyDtype("dtBias+softplus", with(new ScanFixture(31, 2, 41, 3, 4, 1, 9), f -> f.withBias = f.softplus = true));
        everyDtype("softplus", with(new ScanFixture(32, 2, 41, 3, 4, 1, 9), f -> f.softplus = true));
        everyDtype("D", with(new ScanFixture(33, 2, 41, 3, 4, 3, 9), f -> f.withD = true));
        everyDtype("z", with(new ScanFixture(34, 1, 41, 3, 4, 1, 9), f -> f.withZ = true));
        everyDtype("initial state", with(new ScanFixture(35, 2, 41, 3, 4, 1, 9), f -> f.withInit = true));
        everyDtype("final state", with(new ScanFixture(36, 2, 41, 3, 4, 1, 9), f -> f.withFinal = true));
    }

    @Test
    void lengthOne() {
        everyDtype("L=1", new ScanFixture(17, 3, 1, 2, 3, 1, 5).all().draw());
    }

    /** Long enough for forward chunks and several backward checkpoints, with few blocks so that chunking is used. */
    @Test
    void longSequenceAcrossChunksAndCheckpoints() {
        everyDtype("L=1001", new ScanFixture(41, 1, 1001, 2, 4, 1, 16).all().draw());
        compare("L=777 plain", new ScanFixture(42, 2, 777, 1, 2, 1, 8).draw(), DType.F64);
    }

    @Test
    void packedStartsInsideChunks() {
        everyDtype("packed", new ScanFixture(15, 1, 140, 2, 4, 1, 16).all().packed(0, 1, 70, 70, 140).draw());
        // sequences of very different lengths, starts at odd offsets inside the 64+ position chunks and 8-position sub-blocks
        everyDtype("packed long", new ScanFixture(43, 1, 1000, 2, 3, 1, 12).all().packed(0, 3, 67, 67, 333, 601, 602, 1000).draw());
        ScanFixture plain = new ScanFixture(44, 1, 300, 2, 3, 1, 12).packed(0, 150, 151, 300);
        plain.withFinal = true;
        everyDtype("packed, no initial state", plain.draw());
    }

    @Test
    void batchRowsAndGroupPerHead() {
        everyDtype("B=5, G=H", with(new ScanFixture(45, 5, 93, 3, 5, 3, 16), f -> { f.withZ = true; f.withFinal = true; }));
    }

    @Test
    void perStateDecayMamba2Shape() {
        everyDtype("A [H,N]", new ScanFixture(16, 2, 80, 6, 1, 2, 19).all().mamba1A().draw());
    }

    /** P larger than a block's rows (slices of a head) and the largest state size (32 lanes per row). */
    @Test
    void wideHeadsAndLargeState() {
        everyDtype("P=70", new ScanFixture(18, 1, 20, 2, 70, 1, 24).all().draw());
        everyDtype("N=256", new ScanFixture(19, 1, 37, 2, 9, 1, 256).all().draw());
        everyDtype("N=1", new ScanFixture(20, 2, 37, 2, 9, 2, 1).all().draw());
    }

    /** Step sizes of 1e-4 (decay ≈ 1) and 20 (the state is wiped at every step), with and without softplus. */
    @Test
    void extremeStepSizes() {
        for (boolean softplus : new boolean[] {false, true}) {
            ScanFixture f = new ScanFixture(46, 2, 90, 2, 4, 1, 8).all();
            f.softplus = softplus;
            f.withBias = false;
            f.draw();
            int n = f.b * f.l * f.h;
            double[] dt = new double[n];
            for (int i = 0; i < n; i++) dt[i] = (i / 7) % 2 == 0 ? 1e-4 : 20;
            f.f32[ScanProblem.DT] = Tensor.of(dt, f.b, f.l, f.h).to(DType.F32);
            everyDtype("dt in {1e-4, 20}, softplus " + softplus, f);
        }
    }

    /** The Mamba-1 form: u, delta [B,L,D], A [D,N], Bm/Cm [B,L,N], against the reference on the same inputs. */
    @Test
    void mamba1Form() {
        for (DType t : ALL) {
            try (Scope s = Scope.open()) {
                int b = 2, l = 133, dd = 70, n = 16;
                Generator gen = new Generator(51);
                Tensor[] base = {Tensor.randn(gen, b, l, dd), Tensor.randn(gen, b, l, dd).mul(0.5), Tensor.rand(gen, dd, n).add(0.5).neg(),
                        Tensor.randn(gen, b, l, n).mul(0.5), Tensor.randn(gen, b, l, n).mul(0.5), Tensor.randn(gen, dd).mul(0.5),
                        Tensor.randn(gen, dd), Tensor.randn(gen, b, l, dd), Tensor.randn(gen, b, dd, n).mul(0.5)};
                Tensor[] ref = new Tensor[base.length], dev = new Tensor[base.length];
                for (int i = 0; i < base.length; i++) {
                    Tensor q = base[i].to(t);
                    ref[i] = q.to(DType.F64).clone().requiresGrad(true);
                    dev[i] = q.to(GPU).detach().requiresGrad(true);
                }
                ScanResult r64 = mamba1(ref), rg = mamba1(dev);
                Close.assertClose("mamba1 " + t + " y", r64.y(), cpu(rg.y()), fwdTol(t));
                Close.assertClose("mamba1 " + t + " final", r64.finalState(), cpu(rg.finalState()), fwdTol(t));
                Tensor py = Tensor.randn(new Generator(3), b, l, dd).to(t), ps = Tensor.randn(new Generator(4), b, dd, n).to(t);
                r64.y().mul(py.to(DType.F64)).sum().add(r64.finalState().mul(ps.to(DType.F64)).sum()).backward();
                rg.y().mul(py.to(GPU)).sum().add(rg.finalState().mul(ps.to(GPU)).sum()).backward();
                String[] names = {"u", "delta", "A", "Bm", "Cm", "dtBias", "Dskip", "z", "initialState"};
                for (int i = 0; i < base.length; i++) {
                    Close.assertClose("mamba1 " + t + " d" + names[i], ref[i].grad(), cpu(dev[i].grad()), gradTol(t));
                }
            }
        }
    }

    private static ScanResult mamba1(Tensor[] in) {
        ScanOptions o = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(in[7]).initialState(in[8])
                .returnFinalState(true).build();
        return SelectiveScan.mamba1(in[0], in[1], in[2], in[3], in[4], o);
    }

    /** The batched decoding step on the GPU reproduces the GPU's parallel output at every position and its final state. */
    @Test
    void stepEqualsParallelAtEveryPosition() {
        for (DType t : ALL) {
            try (Scope s = Scope.open()) {
                ScanFixture f = new ScanFixture(21, 3, 19, 4, 3, 2, 5).all().draw();
                Tensor[] in = f.inputs(t);
                for (int i = 0; i < in.length; i++) if (in[i] != null) in[i] = in[i].to(GPU);
                ScanResult par = f.run(in);
                Tensor state = in[8].clone();
                double tol = t == DType.F64 ? 1e-12 : t == DType.F32 ? 1e-5 : 2e-2;
                for (int i = 0; i < f.l; i++) {
                    ScanOptions o = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(in[7].select(1, i)).build();
                    Tensor yi = SelectiveScan.step(state, in[0].select(1, i), in[1].select(1, i), in[2], in[3].select(1, i),
                            in[4].select(1, i), o);
                    assertTrue(yi.device().equals(GPU), "step output on the GPU");
                    Close.assertClose(t + " step " + i, cpu(par.y().select(1, i)), cpu(yi), tol);
                }
                Close.assertClose(t + " state after the steps", cpu(par.finalState()), cpu(state), tol);
            }
        }
    }

    @Test
    void mamba1StepEqualsParallel() {
        for (DType t : new DType[] {DType.F64, DType.F32}) {
            try (Scope s = Scope.open()) {
                ScanFixture f = new ScanFixture(22, 2, 7, 6, 1, 1, 4).all().mamba1A().draw();
                Tensor[] in = f.inputs(t);
                for (int i = 0; i < in.length; i++) if (in[i] != null) in[i] = in[i].to(GPU);
                Tensor u = in[0].reshape(2, 7, 6), z = in[7].reshape(2, 7, 6), bm = in[3].reshape(2, 7, 4), cm = in[4].reshape(2, 7, 4);
                ScanOptions o = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(z).build();
                Tensor y = SelectiveScan.mamba1(u, in[1], in[2], bm, cm, o).y();
                Tensor state = Tensor.zeros(t, GPU, 2, 6, 4);
                for (int i = 0; i < 7; i++) {
                    ScanOptions oi = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(z.select(1, i)).build();
                    Tensor yi = SelectiveScan.mamba1Step(state, u.select(1, i), in[1].select(1, i), in[2], bm.select(1, i), cm.select(1, i), oi);
                    Close.assertClose(t + " mamba1 step " + i, cpu(y.select(1, i)), cpu(yi), t == DType.F64 ? 1e-12 : 1e-5);
                }
            }
        }
    }

    /** Without atomics the gradients repeat bit for bit; the atomic dB/dC path (forced here) agrees with the reference. */
    @Test
    void deterministicGradientsAndAtomicFallback() {
        ScanFixture f = new ScanFixture(61, 2, 150, 8, 40, 2, 64).all().draw(); // P=40 > 16 rows per block: several tiles per group
        double[][] first = grads(f), second = grads(f);
        for (int i = 0; i < first.length; i++) if (first[i] != null) assertArrayEquals(first[i], second[i], "run-to-run d" + ScanProblem.NAMES[i]);
        long saved = SelectiveScanCuda.partialBudget;
        SelectiveScanCuda.partialBudget = 0;
        try {
            compare("atomic dB/dC", f, DType.F64);
            compare("atomic dB/dC", f, DType.F32);
        } finally {
            SelectiveScanCuda.partialBudget = saved;
        }
    }

    private static double[][] grads(ScanFixture f) {
        try (Scope s = Scope.open()) {
            Tensor[] in = f.inputs(DType.F32);
            for (int i = 0; i < in.length; i++) if (in[i] != null) in[i] = in[i].to(GPU).detach().requiresGrad(true);
            ScanResult r = f.run(in);
            r.y().sum().add(r.finalState().mul(0.5).sum()).backward();
            double[][] out = new double[in.length][];
            for (int i = 0; i < in.length; i++) if (in[i] != null) out[i] = cpu(in[i].grad()).toDoubleArray();
            return out;
        }
    }

    @Test
    void inputsOnTwoDevicesAreRefusedNamingBoth() {
        ScanFixture f = new ScanFixture(62, 1, 5, 2, 3, 1, 4).draw();
        Tensor[] in = f.inputs(DType.F32);
        Tensor xg = in[0].to(GPU);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SelectiveScan.apply(xg, in[1], in[2], in[3], in[4], ScanOptions.NONE));
        assertTrue(e.getMessage().contains("cuda:0") && e.getMessage().contains("cpu") && e.getMessage().contains("dt"), e.getMessage());
    }
}
