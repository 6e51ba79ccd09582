package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.AttentionCheck.againstReference;
import static dev.tessera.kernels.attention.AttentionCheck.assertClose;
import static dev.tessera.kernels.attention.AttentionCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The fast F32 flash attention against the reference, across the options and their edge cases. */
class FlashAttentionTest {
    private static void run(String name, int b, int hq, int hkv, int lq, int lk, int p, AttentionOptions.Builder o) {
        try (Scope s = Scope.open()) {
            long seed = name.hashCode();
            againstReference(name, randn(seed, b, hq, lq, p), randn(seed + 1, b, hkv, lk, p), randn(seed + 2, b, hkv, lk, p), o.build());
        }
    }

    private static AttentionOptions.Builder opts() { return AttentionOptions.builder(); }

    @Test
    void bidirectionalAndCausal() {
        run("bidirectional", 2, 2, 2, 37, 37, 16, opts());
        run("causal", 2, 2, 2, 37, 37, 16, opts().causal(true));
        run("scale", 1, 2, 2, 20, 20, 8, opts().causal(true).scale(0.7));
    }

    @Test
    void lengthOne() {
        run("length 1", 1, 1, 1, 1, 1, 1, opts());
        run("length 1 causal", 2, 3, 1, 1, 1, 5, opts().causal(true));
    }

    @Test
    void lengthsNotAMultipleOfTheTile() {
        int bc = TileKernels.BC, br = TileKernels.BR;
        run("tile+1 causal", 1, 2, 2, br + 3, br + 3, 17, opts().causal(true));
        run("two key tiles + 5", 1, 1, 1, 2 * bc + 5, 2 * bc + 5, 64, opts());
        run("head dim 65", 1, 1, 1, 9, bc + 1, 65, opts().causal(true));
        run("head dim 24 (hnet-tiny's inner attention: a vector and a masked part)", 2, 4, 4, br + 8, br + 8, 24, opts().causal(true));
    }

    @Test
    void queriesAndKeysOfDifferentLengths() {
        run("Lq < Lk causal (last positions)", 2, 2, 2, 5, 70, 8, opts().causal(true));
        run("Lq > Lk bidirectional", 1, 2, 2, 70, 9, 8, opts());
        run("Lq > Lk causal (first rows see nothing)", 1, 2, 1, 12, 5, 8, opts().causal(true));
    }

    @Test
    void groupedQueryAttention() {
        run("GQA 4/2", 2, 4, 2, 19, 23, 8, opts().causal(true));
        run("MQA 6/1", 1, 6, 1, 11, 11, 12, opts());
    }

    @Test
    void slidingWindow() {
        run("window 0", 1, 2, 2, 40, 40, 8, opts().causal(true).window(0));
        run("window 5", 1, 2, 2, 90, 90, 8, opts().causal(true).window(5));
        run("window 70 over tiles", 1, 1, 1, 150, 150, 8, opts().causal(true).window(70));
        run("bidirectional window 3", 1, 2, 2, 30, 30, 8, opts().window(3));
    }

    @Test
    void keyBias() {
        try (Scope s = Scope.open()) {
            againstReference("bias [B,Lk]", randn(1, 2, 2, 17, 8), randn(2, 2, 1, 21, 8), randn(3, 2, 1, 21, 8),
                    opts().keyBias(randn(4, 2, 21)).build());
            againstReference("bias [B,Hq,Lk] causal", randn(5, 2, 2, 21, 8), randn(6, 2, 2, 21, 8), randn(7, 2, 2, 21, 8),
                    opts().causal(true).keyBias(randn(8, 2, 2, 21)).build());
        }
    }

    @Test
    void keyLengthsPerRow() {
        run("keyLengths", 3, 2, 1, 3, 40, 8, opts().causal(true).keyLengths(40, 17, 3));
    }

    @Test
    void fullyMaskedRowsGiveZeroAndNoNaN() {
        try (Scope s = Scope.open()) {
            int L = 9;
            float[] bias = new float[2 * L];
            java.util.Arrays.fill(bias, 0, L, Float.NEGATIVE_INFINITY); // batch row 0: every key hidden
            bias[L + 4] = Float.NEGATIVE_INFINITY;
            Tensor kb = Tensor.of(bias, 2, L);
            AttentionOptions o = opts().keyBias(kb).build();
            Tensor q = randn(1, 2, 2, L, 4), k = randn(2, 2, 2, L, 4), v = randn(3, 2, 2, L, 4);
            againstReference("all keys -inf", q, k, v, o);
            q.requiresGrad(true);
            k.requiresGrad(true);
            FlashAttention.Result r = FlashAttention.forward(q, k, v, o);
            r.output().sum().backward();
            double[] out = r.output().select(0, 0).contiguous().toDoubleArray();
            for (double x : out) assertEquals(0.0, x);
            for (double x : r.logsumexp().select(0, 0).contiguous().toDoubleArray()) assertEquals(Double.NEGATIVE_INFINITY, x);
            for (double x : q.grad().select(0, 0).contiguous().toDoubleArray()) assertEquals(0.0, x);
            for (double x : kb.grad() == null ? new double[0] : kb.grad().select(0, 0).contiguous().toDoubleArray()) assertEquals(0.0, x);
            for (double x : k.grad().toDoubleArray()) assertTrue(!Double.isNaN(x));
            // An empty cache row and a window that leaves no key also produce zero rows.
            run("empty row", 2, 1, 1, 2, 6, 4, opts().causal(true).keyLengths(0, 6));
        }
    }

    /**
     * One query per row with nothing to differentiate (a decoding step) takes {@link FlashDecodeCpu}, which reads k
     * and v where they lie: against the float64 reference for output and logsumexp, at head dims below, at and off
     * the vector length, with grouped heads, windows, a scale, rows of different lengths (one empty), k and v as views
     * with gaps (a cache buffer's used prefix) or with heads and positions swapped in memory, and (at P = 40) a q whose
     * head dim is strided, which is copied first.
     */
    @Test
    void singleQueryDecodingReadsKeysInPlace() {
        for (int p : new int[] {1, 8, 16, 24, 32, 40, 64, 100}) {
            for (AttentionOptions.Builder o : List.of(opts().causal(true), opts().causal(true).window(5), opts().scale(0.3),
                    opts().causal(true).keyLengths(70, 0, 33), opts().causal(true).window(40).keyLengths(21, 70, 1))) {
                try (Scope s = Scope.open()) {
                    int B = 3, hq = 4, hkv = 2, cap = 90, len = 70;
                    long seed = 31L * p + o.hashCode();
                    Tensor q = p != 40 ? randn(seed, B, hq, 1, p) : randn(seed, B, hq, p, 1).transpose(2, 3); // at P = 40 the head dim is strided
                    Tensor kBuf = randn(seed + 1, B, hkv, cap, p), vSwapped = randn(seed + 2, B, len, hkv, p);
                    Tensor k = kBuf.narrow(2, 0, len), v = vSwapped.transpose(1, 2);
                    AttentionOptions built = o.build();
                    FlashAttention.Result got = FlashAttention.forward(q, k, v, built);
                    FlashAttention.Result ref = FlashAttentionReference.forward(q, k.contiguous(), v.contiguous(), built);
                    String what = "decode P=" + p + " " + built;
                    assertClose(what + " output", ref.output().toDoubleArray(), got.output().toDoubleArray(), 1e-5, 1e-4);
                    double[] lr = ref.logsumexp().toDoubleArray(), lg = got.logsumexp().toDoubleArray();
                    for (int i = 0; i < lr.length; i++) {
                        if (Double.isInfinite(lr[i])) assertEquals(lr[i], lg[i], what + " logsumexp " + i);
                        else assertEquals(lr[i], lg[i], 1e-5 + 1e-5 * Math.abs(lr[i]), what + " logsumexp " + i);
                    }
                }
            }
        }
    }

    @Test
    void packedSequencesEqualSeparateRuns() {
        int[] cu = {0, 3, 3, 40, 70, 71};
        int T = cu[cu.length - 1], H = 2, P = 8;
        for (AttentionOptions.Builder base : List.of(opts().causal(true), opts(), opts().causal(true).window(6))) {
            try (Scope s = Scope.open()) {
                Tensor q = randn(11, 1, H, T, P), k = randn(12, 1, H, T, P), v = randn(13, 1, H, T, P);
                AttentionOptions packedOpts = base.cuSeqlens(cu).build();
                againstReference("packed", q, k, v, packedOpts);
                q.requiresGrad(true);
                Tensor packed = FlashAttention.apply(q, k, v, packedOpts);
                packed.mul(randn(14, 1, H, T, P)).sum().backward();
                double[] dqPacked = q.grad().toDoubleArray();
                q.zeroGrad();
                List<Tensor> parts = new ArrayList<>();
                for (int d = 0; d + 1 < cu.length; d++) {
                    int len = cu[d + 1] - cu[d];
                    if (len == 0) continue;
                    AttentionOptions one = base.cuSeqlens((int[]) null).build();
                    parts.add(FlashAttention.apply(q.narrow(2, cu[d], len), k.narrow(2, cu[d], len), v.narrow(2, cu[d], len), one));
                }
                Tensor separate = Tensor.cat(parts, 2);
                assertClose("packed vs separate output", separate.toDoubleArray(), packed.toDoubleArray(), 1e-6, 1e-5);
                separate.mul(randn(14, 1, H, T, P)).sum().backward();
                assertClose("packed vs separate dq", q.grad().toDoubleArray(), dqPacked, 1e-6, 1e-5);
                q.zeroGrad();
            }
        }
    }

    @Test
    void f64RunsTheReferenceAndMatchesF32() {
        try (Scope s = Scope.open()) {
            Tensor q = randn(1, 1, 2, 13, 8), k = randn(2, 1, 2, 13, 8), v = randn(3, 1, 2, 13, 8);
            AttentionOptions o = opts().causal(true).build();
            Tensor a = FlashAttention.apply(q, k, v, o);
            Tensor b = FlashAttention.apply(q.to(dev.tessera.runtime.DType.F64), k.to(dev.tessera.runtime.DType.F64),
                    v.to(dev.tessera.runtime.DType.F64), o);
            assertEquals(dev.tessera.runtime.DType.F64, b.dtype());
            assertClose("f64 vs f32", b.toDoubleArray(), a.toDoubleArray(), 1e-5, 1e-4);
        }
    }

    /**
     * Each gradient element is written by one task in a fixed order, so repeated runs agree. Not bit for bit, though:
     * until C2 compiles the Vector API loops, lanewise EXP and lane reductions take a scalar fallback whose results
     * differ from the compiled ones by an ulp, and when that happens depends on the JIT (a tier effect, not a race).
     * Runs are therefore compared to a few ulps.
     */
    @Test
    void backwardIsReproducible() {
        try (Scope s = Scope.open()) {
            Tensor q = randn(1, 1, 4, 150, 16), k = randn(2, 1, 2, 150, 16), v = randn(3, 1, 2, 150, 16);
            double[][] previous = null;
            for (int rep = 0; rep < 6; rep++) {
                q.requiresGrad(true);
                k.requiresGrad(true);
                v.requiresGrad(true);
                FlashAttention.apply(q, k, v, opts().causal(true).build()).sum().backward();
                double[][] now = {q.grad().toDoubleArray(), k.grad().toDoubleArray(), v.grad().toDoubleArray()};
                q.zeroGrad();
                k.zeroGrad();
                v.zeroGrad();
                if (rep >= 1) {
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < now[i].length; j++) {
                            double a = previous[i][j], b = now[i][j];
                            assertTrue(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a)), "run " + rep + " gradient " + i + "[" + j + "]: " + a + " vs " + b);
                        }
                    }
                }
                previous = now;
            }
        }
    }
}
