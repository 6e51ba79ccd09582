package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.assertClose;
import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA flash attention (native/cuda/kernels/flash_attention.cu) against {@link FlashAttentionReference}: output,
 * logsumexp and every gradient (key bias and existence log p included) for F64, F32 and BF16 across the options;
 * the tensor-core BF16 forward against the general kernel; KV-cache decoding against the parallel forward.
 */
@Tag("gpu")
class FlashAttentionCudaTest {
    private static final Device GPU = Device.cuda(0);
    private static final DType[] ALL = {DType.F64, DType.F32, DType.BF16};

    @BeforeEach
    void needsGpu() {
        CudaTests.assumeGpu();
    }

    private static AttentionOptions.Builder opts() { return AttentionOptions.builder(); }

    /** {atol, rtol} for values and for gradients. */
    private static double[] tol(DType t) {
        return t == DType.F64 ? new double[] {1e-9, 1e-9, 1e-9, 1e-9}
                : t == DType.F32 ? new double[] {2e-4, 2e-3, 5e-4, 5e-3} : new double[] {2e-2, 2e-2, 6e-2, 4e-2};
    }

    private static Tensor leaf(Tensor t, DType d, Device dev) { return t.to(d).to(dev).detach().requiresGrad(true); }

    private static double[] host(Tensor t) { return t.to(Device.cpu()).to(DType.F64).contiguous().toDoubleArray(); }

    /**
     * Runs q [B,Hq,Lq,P], k, v [B,Hkv,Lk,P] (random, seeded by the name) and the options' tensors through the CUDA op
     * in {@code dtype} with autograd and through the float64 reference on the same (rounded) values; compares all.
     */
    private static void check(String name, DType dtype, int b, int hq, int hkv, int lq, int lk, int p, AttentionOptions o) {
        String what = name + " " + dtype + " P=" + p;
        try (Scope s = Scope.open()) {
            long seed = name.hashCode();
            DType side = FlashAttentionCuda.accType(dtype);
            // Round through the storage type so that the reference sees exactly the kernel's inputs.
            Tensor q = randn(seed, b, hq, lq, p).to(dtype).to(DType.F64);
            Tensor k = randn(seed + 1, b, hkv, lk, p).to(dtype).to(DType.F64);
            Tensor v = randn(seed + 2, b, hkv, lk, p).to(dtype).to(DType.F64);
            Tensor bias = o.keyBias() == null ? null : o.keyBias().to(side).to(DType.F64);
            Tensor lpq = o.logpQ() == null ? null : o.logpQ().to(side).to(DType.F64);
            Tensor lpk = o.logpK() == null ? null : o.logpQ() == o.logpK() ? lpq : o.logpK().to(side).to(DType.F64);
            boolean self = lpq != null && lpq == lpk;
            AttentionOptions.Builder rb = o.toBuilder().keyBias(bias);
            AttentionOptions ro = (lpq == null ? rb : self ? rb.existence(lpq) : rb.existence(lpq, lpk)).build();
            Tensor dOut = randn(seed + 3, b, hq, lq, p).to(dtype).to(DType.F64);
            FlashAttention.Result ref = FlashAttentionReference.forward(q, k, v, ro);
            FlashAttentionReference.Gradients g = FlashAttentionReference.backward(q, k, v, ro, dOut);

            Tensor qg = leaf(q, dtype, GPU), kg = leaf(k, dtype, GPU), vg = leaf(v, dtype, GPU);
            Tensor bg = bias == null ? null : leaf(bias, side, GPU);
            Tensor lqg = lpq == null ? null : leaf(lpq, side, GPU);
            Tensor lkg = lpk == null ? null : self ? lqg : leaf(lpk, side, GPU);
            AttentionOptions.Builder gb = o.toBuilder().keyBias(bg);
            AttentionOptions go = (lqg == null ? gb : self ? gb.existence(lqg) : gb.existence(lqg, lkg)).build();
            FlashAttention.Result r = FlashAttention.forward(qg, kg, vg, go);
            assertEquals(GPU, r.output().device(), what + ": output on the GPU");
            assertEquals(dtype, r.output().dtype(), what + ": output dtype");
            assertEquals(side, r.logsumexp().dtype(), what + ": logsumexp in the accumulation type");
            r.output().backward(dOut.to(dtype).to(GPU));
            double[] t = tol(dtype);
            assertClose(what + " output", ref.output().toDoubleArray(), host(r.output()), t[0], t[1]);
            assertClose(what + " logsumexp", ref.logsumexp().toDoubleArray(), host(r.logsumexp()), t[0], t[1]);
            assertClose(what + " dq", g.dq().toDoubleArray(), host(qg.grad()), t[2], t[3]);
            assertClose(what + " dk", g.dk().toDoubleArray(), host(kg.grad()), t[2], t[3]);
            assertClose(what + " dv", g.dv().toDoubleArray(), host(vg.grad()), t[2], t[3]);
            if (bg != null) assertClose(what + " dKeyBias", g.dKeyBias().toDoubleArray(), host(bg.grad()), t[2], t[3]);
            if (lqg != null) {
                if (self) {
                    assertClose(what + " dLogp", g.dLogpQ().add(g.dLogpK()).toDoubleArray(), host(lqg.grad()), t[2], t[3]);
                } else {
                    assertClose(what + " dLogpQ", g.dLogpQ().toDoubleArray(), host(lqg.grad()), t[2], t[3]);
                    assertClose(what + " dLogpK", g.dLogpK().toDoubleArray(), host(lkg.grad()), t[2], t[3]);
                }
            }
        }
    }

    private static void everyDtype(String name, int b, int hq, int hkv, int lq, int lk, int p, AttentionOptions o) {
        for (DType t : ALL) check(name, t, b, hq, hkv, lq, lk, p, o);
    }

    @Test
    void bidirectionalAndCausalAtHeadDims32To128() {
        for (int p : new int[] {32, 64, 128}) {
            everyDtype("bidirectional", 2, 2, 2, 37, 37, p, opts().build());
            everyDtype("causal", 2, 2, 2, 70, 70, p, opts().causal(true).build());
            everyDtype("causal scale", 1, 2, 2, 65, 65, p, opts().causal(true).scale(0.3).build());
        }
        everyDtype("odd head dim", 1, 2, 1, 19, 23, 24, opts().causal(true).build());
    }

    @Test
    void lengthOneAndUnevenLengths() {
        everyDtype("length 1", 1, 1, 1, 1, 1, 32, opts().build());
        everyDtype("length 1 causal GQA", 2, 4, 2, 1, 1, 64, opts().causal(true).build());
        everyDtype("one query over 100 keys", 2, 2, 1, 1, 100, 64, opts().causal(true).build());
        everyDtype("Lq < Lk causal", 2, 2, 2, 5, 130, 64, opts().causal(true).build());
        everyDtype("Lq > Lk bidirectional", 1, 2, 2, 70, 9, 32, opts().build());
        everyDtype("Lq > Lk causal (first rows see nothing)", 1, 2, 1, 12, 5, 64, opts().causal(true).build());
        everyDtype("tile + 1", 1, 1, 1, 65, 65, 128, opts().build());
    }

    @Test
    void groupedQueryAttentionAndWindows() {
        everyDtype("GQA 4/2", 2, 4, 2, 45, 45, 64, opts().causal(true).build());
        everyDtype("MQA 6/1", 1, 6, 1, 33, 33, 32, opts().build());
        everyDtype("window causal", 1, 2, 2, 90, 90, 32, opts().causal(true).window(7).build());
        everyDtype("window bidirectional", 1, 2, 1, 50, 50, 64, opts().window(5).build());
        everyDtype("window 0", 1, 1, 1, 20, 20, 32, opts().causal(true).window(0).build());
    }

    @Test
    void keyBiasSharedAndPerHead() {
        everyDtype("bias [B,Lk]", 2, 4, 2, 40, 40, 64, opts().causal(true).keyBias(randn(5, 2, 40)).build());
        everyDtype("bias [B,Hq,Lk]", 2, 2, 1, 30, 47, 32, opts().keyBias(randn(6, 2, 2, 47)).build());
        everyDtype("bias + window", 1, 2, 2, 60, 60, 128, opts().causal(true).window(9).keyBias(randn(7, 1, 60)).build());
    }

    @Test
    void keyLengthsAndFullyMaskedRowsGiveZeroNeverNaN() {
        everyDtype("keyLengths", 3, 2, 1, 3, 70, 64, opts().causal(true).keyLengths(70, 17, 3).build());
        everyDtype("empty row", 2, 1, 1, 2, 6, 64, opts().causal(true).keyLengths(0, 6).build());
        int L = 9;
        float[] bias = new float[2 * L];
        java.util.Arrays.fill(bias, 0, L, Float.NEGATIVE_INFINITY); // batch row 0: every key hidden
        bias[L + 4] = Float.NEGATIVE_INFINITY;
        everyDtype("all keys -inf", 2, 2, 2, L, L, 32, opts().keyBias(Tensor.of(bias, 2, L)).build());
        for (DType t : ALL) {
            try (Scope s = Scope.open()) {
                Tensor q = leaf(randn(1, 2, 2, L, 32), t, GPU), k = leaf(randn(2, 2, 2, L, 32), t, GPU), v = leaf(randn(3, 2, 2, L, 32), t, GPU);
                Tensor kb = leaf(Tensor.of(bias, 2, L), FlashAttentionCuda.accType(t), GPU);
                FlashAttention.Result r = FlashAttention.forward(q, k, v, opts().keyBias(kb).build());
                r.output().sum().backward();
                for (double x : host(r.output().select(0, 0))) assertEquals(0.0, x, t + " output of a fully masked row");
                for (double x : host(r.logsumexp().select(0, 0))) assertEquals(Double.NEGATIVE_INFINITY, x, t + " logsumexp");
                for (double x : host(q.grad().select(0, 0))) assertEquals(0.0, x, t + " dq of a fully masked row");
                for (double x : host(kb.grad().select(0, 0))) assertEquals(0.0, x, t + " d bias of a hidden key");
                for (Tensor g : new Tensor[] {q.grad(), k.grad(), v.grad(), kb.grad()}) {
                    for (double x : host(g)) assertTrue(!Double.isNaN(x), t + ": NaN gradient");
                }
            }
        }
    }

    @Test
    void packedSequences() {
        int[] cu = {0, 3, 3, 40, 70, 71};
        everyDtype("cuSeqlens causal", 1, 2, 2, 71, 71, 32, opts().causal(true).cuSeqlens(cu).build());
        everyDtype("cuSeqlens bidirectional", 2, 2, 1, 71, 71, 64, opts().cuSeqlens(cu).build());
        everyDtype("cuSeqlens window", 1, 2, 2, 71, 71, 32, opts().causal(true).window(6).cuSeqlens(cu).build());
    }

    @Test
    void existenceSelfAndCross() {
        int L = 80;
        everyDtype("existence self", 2, 2, 2, L, L, 32, opts().existence(ProbabilisticAttentionTest.logp(4, 2, L, 50)).build());
        everyDtype("existence + GQA + bias", 2, 4, 2, L, L, 64,
                opts().existence(ProbabilisticAttentionTest.logp(8, 2, L, 70)).keyBias(randn(9, 2, L)).build());
        everyDtype("existence cross", 2, 2, 2, 30, 75, 32,
                opts().existence(ProbabilisticAttentionTest.logp(4, 2, 30, 20), ProbabilisticAttentionTest.logp(5, 2, 75, 60)).build());
        everyDtype("existence packed", 1, 2, 2, 40, 40, 32,
                opts().existence(ProbabilisticAttentionTest.logp(4, 1, 40, 99)).cuSeqlens(0, 13, 40).build());
        float[] lp = {0f, -1e-7f, -0.5f, (float) Math.log(1e-30), (float) Math.log(1e-20), -40f, Float.NEGATIVE_INFINITY, -3f};
        everyDtype("existence extremes", 1, 2, 2, lp.length, lp.length, 32, opts().existence(Tensor.of(lp, 1, lp.length)).build());
    }

    /** The tensor-core BF16 forward against the general BF16 kernel on the same inputs. */
    @Test
    void fastBf16ForwardMatchesTheGeneralKernel() {
        int[][] shapes = {{2, 4, 2, 200, 200}, {1, 2, 2, 64, 64}, {1, 2, 1, 1, 130}, {2, 2, 2, 77, 300}, {1, 1, 1, 300, 77}};
        for (int p : new int[] {48, 64, 96, 128}) {
            for (int[] sh : shapes) {
                for (boolean causal : new boolean[] {false, true}) {
                    for (int[] lens : new int[][] {null, {sh[4], Math.max(0, sh[4] - 50)}}) {
                        if (lens != null && sh[0] != 2) continue;
                        try (Scope s = Scope.open()) {
                            String what = "fast vs general P=" + p + " " + java.util.Arrays.toString(sh) + (causal ? " causal" : "")
                                    + (lens == null ? "" : " keyLengths " + java.util.Arrays.toString(lens));
                            Tensor q = randn(1, sh[0], sh[1], sh[3], p).to(DType.BF16).to(GPU);
                            Tensor k = randn(2, sh[0], sh[2], sh[4], p).to(DType.BF16).to(GPU);
                            Tensor v = randn(3, sh[0], sh[2], sh[4], p).to(DType.BF16).to(GPU);
                            AttentionOptions o = opts().causal(causal).keyLengths(lens).build();
                            Geometry g = Geometry.of(q, k, v, o);
                            assertTrue(FlashAttentionCuda.fastEligible(g), what);
                            Tensor o1 = KernelSupport.allocate(DType.BF16, q.shape(), GPU), l1 = KernelSupport.allocate(DType.F32, new int[] {sh[0], sh[1], sh[3]}, GPU);
                            Tensor o2 = KernelSupport.allocate(DType.BF16, q.shape(), GPU), l2 = KernelSupport.allocate(DType.F32, new int[] {sh[0], sh[1], sh[3]}, GPU);
                            FlashAttentionCuda.forwardFast(g, q, k, v, o1, l1);
                            FlashAttentionCuda.forwardGeneral(g, q, k, v, null, null, null, o2, l2);
                            assertClose(what + " output", host(o2), host(o1), 1.6e-2, 1.6e-2);
                            assertClose(what + " logsumexp", host(l2), host(l1), 2e-3, 1e-3);
                            // And against the reference on the rounded inputs.
                            FlashAttention.Result ref = FlashAttentionReference.forward(q.to(Device.cpu()).to(DType.F64), k.to(Device.cpu()).to(DType.F64),
                                    v.to(Device.cpu()).to(DType.F64), o);
                            assertClose(what + " output vs reference", ref.output().toDoubleArray(), host(o1), 2e-2, 2e-2);
                            assertClose(what + " logsumexp vs reference", ref.logsumexp().toDoubleArray(), host(l1), 2e-3, 1e-3);
                        }
                    }
                }
            }
        }
    }

    /** KV-cache decoding on the GPU, one position at a time, against one parallel causal forward at every position. */
    @Test
    void decodeMatchesTheParallelForwardAtEveryPosition() {
        int B = 2, Hq = 4, Hkv = 2, T = 70, P = 64;
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
            for (int window : new int[] {-1, 9}) {
                try (Scope s = Scope.open()) {
                    Tensor q = randn(21, B, Hq, T, P).to(t).to(GPU), k = randn(22, B, Hkv, T, P).to(t).to(GPU), v = randn(23, B, Hkv, T, P).to(t).to(GPU);
                    AttentionOptions o = opts().causal(true).window(window).build();
                    double[] full = host(FlashAttention.apply(q, k, v, o));
                    double[] ref = FlashAttentionReference.forward(q.to(Device.cpu()).to(DType.F64), k.to(Device.cpu()).to(DType.F64),
                            v.to(Device.cpu()).to(DType.F64), o).output().toDoubleArray();
                    double[] tl = tol(t);
                    assertClose(t + " parallel causal forward vs reference", ref, full, tl[0], tl[1]);
                    try (KvCache cache = KvCache.create(B, Hkv, T + 5, P, t, GPU)) {
                        for (int pos = 0; pos < T; pos++) {
                            cache.append(k.narrow(2, pos, 1).contiguous(), v.narrow(2, pos, 1).contiguous());
                            Tensor step = cache.attend(q.narrow(2, pos, 1).contiguous(), o);
                            assertEquals(GPU, step.device());
                            double[] got = host(step);
                            double[] want = new double[B * Hq * P];
                            for (int bh = 0; bh < B * Hq; bh++) System.arraycopy(full, (bh * T + pos) * P, want, bh * P, P);
                            assertClose(t + " window " + window + " decode at position " + pos, want, got, tl[0], tl[1]);
                        }
                    }
                }
            }
        }
    }

    /** Rows of different lengths in one decode batch, including an empty row (output 0, never NaN). */
    @Test
    void decodeWithRaggedRows() {
        int B = 3, H = 2, P = 32, cap = 40;
        try (Scope s = Scope.open(); KvCache cache = KvCache.create(B, H, cap, P, DType.F32, GPU)) {
            Tensor k = randn(31, B, H, 30, P).to(GPU), v = randn(32, B, H, 30, P).to(GPU);
            cache.append(k, v, new int[] {30, 11, 0});
            Tensor q = randn(33, B, H, 1, P).to(GPU);
            double[] got = host(cache.attend(q, opts().causal(true).build()));
            AttentionOptions o = opts().causal(true).keyLengths(30, 11, 0).build();
            double[] ref = FlashAttentionReference.forward(q.to(Device.cpu()).to(DType.F64), k.to(Device.cpu()).to(DType.F64),
                    v.to(Device.cpu()).to(DType.F64), o).output().toDoubleArray();
            assertClose("ragged decode", ref, got, 2e-4, 2e-3);
            for (int x = 2 * H * P; x < 3 * H * P; x++) assertEquals(0.0, got[x], "empty row gives 0");
        }
    }
}
