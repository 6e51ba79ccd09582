package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Mamba-2 and attention blocks, isotropic stacks: parameter counts and names, step = forward, gradients. */
class BlocksTest {
    private static Isotropic.Config small(int dim) { return new Isotropic.Config(dim, 64, 2, 4, -1, 8, 4, 2, 8, 1); }

    @Test
    void parameterCountsMatchTheReference() {
        Generator g = new Generator(1);
        // hnet.md §1.3: a Mamba-2 layer at D=1024 with its block pre-norm has 6,601,056 parameters
        try (Block m = new Block(1024, new Mamba2(1024, g), null)) {
            assertEquals(6_601_056, m.parameterCount());
        }
        // ... and a T block at D=1536, F=4096 (attention + SwiGLU, two norms) 28,314,624
        try (Block t = new Block(1536, new CausalSelfAttention(1536, 16, 48, -1, g), new SwiGluMlp(1536, 4096, g))) {
            assertEquals(28_314_624, t.parameterCount());
        }
    }

    @Test
    void namesAndShapesFollowTheReferenceStateDict() {
        try (Isotropic s = new Isotropic("T1m1", small(16), new Generator(2))) {
            var p = s.namedParameters();
            assertEquals(List.of("layers.0.norm1.weight", "layers.0.mixer.Wqkv.weight", "layers.0.mixer.out_proj.weight",
                    "layers.0.norm2.weight", "layers.0.mlp.fc1.weight", "layers.0.mlp.fc2.weight",
                    // a module's own parameters come before its submodules', as in PyTorch's named_parameters()
                    "layers.1.norm1.weight", "layers.1.mixer.dt_bias", "layers.1.mixer.A_log", "layers.1.mixer.D",
                    "layers.1.mixer.in_proj.weight", "layers.1.mixer.conv1d.weight", "layers.1.mixer.conv1d.bias", "layers.1.mixer.norm.weight",
                    "layers.1.mixer.out_proj.weight", "rmsnorm.weight"), List.copyOf(p.keySet()));
            // d_inner 32, 4 heads of 8, N 8: conv_dim = 32 + 16 = 48; in_proj = 2·32 + 16 + 4 = 84 outputs
            assertArrayEquals(new int[] {48, 1, 4}, p.get("layers.1.mixer.conv1d.weight").shape());
            assertArrayEquals(new int[] {84, 16}, p.get("layers.1.mixer.in_proj.weight").shape());
            assertArrayEquals(new int[] {256, 16}, p.get("layers.0.mlp.fc1.weight").shape(), "2F, with F = 64 rounded up to 128");
            assertEquals(1 + 2, s.height());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Isotropic.parse("m4x2"));
        assertTrue(e.getMessage().contains("m4x2"));
        assertEquals(List.of('T', 'm', 'm'), Isotropic.parse("T1m2"));
    }

    /** Stepping one position at a time reproduces the full forward at every position, for a batch. */
    private static void assertStepEqualsForward(String layout, int window) {
        int dim = 16, b = 3, l = 9;
        Isotropic.Config cfg = new Isotropic.Config(dim, 64, 2, 4, window, 8, 4, 2, 8, 1);
        try (Isotropic s = new Isotropic(layout, cfg, new Generator(7)); Scope sc = Scope.open()) {
            s.initWeights(new Generator(8), s.height());
            Tensor x = Tensor.randn(new Generator(9), b, l, dim);
            float[] full = s.forward(x).toFloatArray();
            List<Mixer.DecodeState> st = s.newState(b, l);
            try {
                for (int t = 0; t < l; t++) {
                    float[] one = s.step(x.narrow(1, t, 1), st).toFloatArray();
                    for (int bi = 0; bi < b; bi++) {
                        for (int c = 0; c < dim; c++) {
                            float want = full[(bi * l + t) * dim + c], got = one[bi * dim + c];
                            assertEquals(want, got, 2e-4f + 2e-4f * Math.abs(want), layout + " position " + t + " row " + bi + " channel " + c);
                        }
                    }
                }
            } finally {
                st.forEach(Mixer.DecodeState::close);
            }
        }
    }

    /**
     * Stepping a changing subset of the rows (as an H-Net's inner stages do) leaves the other rows where they are:
     * each row's outputs equal the full forward over that row's own positions, though rows drift apart in length.
     */
    private static void assertSubsetStepEqualsForward(String layout, int window) {
        int dim = 16, b = 5, l = 8;
        Isotropic.Config cfg = new Isotropic.Config(dim, 64, 2, 4, window, 8, 4, 2, 8, 1);
        int[][] schedule = {{0, 1, 2, 3, 4}, {1, 3}, {0, 2, 3, 4}, {4}, {0, 1, 2}, {1, 2, 3}, {0, 3, 4}, {2}, {0, 1, 2, 3, 4}, {1, 4},
                {0, 1, 3}, {2, 3, 4}, {0, 1, 2, 3, 4}, {0, 2, 4}, {1, 3}, {0, 1, 2, 3, 4}};
        // The modules' own init, not the reference's N(0, 0.02): q·k of order 1, so a wrong rotary position shows.
        try (Isotropic s = new Isotropic(layout, cfg, new Generator(17)); Scope sc = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(19), b, l, dim).mul(2);
            float[] full = s.forward(x).toFloatArray();
            List<Mixer.DecodeState> st = s.newState(b, l);
            int[] at = new int[b];
            int checked = 0;
            try {
                for (int[] step : schedule) {
                    int[] rows = java.util.Arrays.stream(step).filter(r -> at[r] < l).toArray();
                    if (rows.length == 0) continue;
                    stepRowsAndCompare(layout, s, st, x, full, at, rows);
                    checked += rows.length;
                }
                assertTrue(checked > 3 * l, "the schedule steps most positions: " + checked);
                // A step whose inputs do not match its rows is refused, naming both.
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> s.step(x.narrow(1, 0, 1), st, RowSubset.of(b, 0, 1)));
                assertTrue(e.getMessage().contains("rows [0, 1] of 5"), e.getMessage());
                e = assertThrows(IllegalArgumentException.class, () -> s.step(x.narrow(0, 0, 0).narrow(1, 0, 1), st, RowSubset.of(b)));
                assertTrue(e.getMessage().contains("at least one row"), e.getMessage());
            } finally {
                st.forEach(Mixer.DecodeState::close);
            }
        }
    }

    /**
     * Steps {@code rows} of x [B, L, D] by one position each (row r at position at[r]) and checks every output against
     * the full forward {@code full}; advances at[r].
     */
    private static void stepRowsAndCompare(String layout, Isotropic s, List<Mixer.DecodeState> st, Tensor x, float[] full, int[] at, int[] rows) {
        int b = x.size(0), l = x.size(1), dim = x.size(2);
        java.util.List<Tensor> in = new java.util.ArrayList<>();
        for (int r : rows) in.add(x.narrow(0, r, 1).narrow(1, at[r], 1));
        float[] out = s.step(Tensor.cat(in, 0), st, RowSubset.of(b, rows)).toFloatArray();
        for (int j = 0; j < rows.length; j++) {
            int r = rows[j];
            for (int c = 0; c < dim; c++) {
                float want = full[(r * l + at[r]) * dim + c], got = out[j * dim + c];
                assertEquals(want, got, 2e-4f + 2e-4f * Math.abs(want), layout + " row " + r + " position " + at[r] + " channel " + c);
            }
            at[r]++;
        }
    }

    /**
     * Prefilling each row's first positions in one parallel pass (prefixes of different lengths, some shorter than
     * the convolution's window) and stepping the rest gives the full forward at every position.
     */
    private static void assertPrefillThenStepEqualsForward(String layout, int window) {
        int dim = 16, b = 4, l = 9;
        int[] prefix = {1, 2, 5, 9};
        Isotropic.Config cfg = new Isotropic.Config(dim, 64, 2, 4, window, 8, 4, 2, 8, 1);
        try (Isotropic s = new Isotropic(layout, cfg, new Generator(27)); Scope sc = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(28), b, l, dim).mul(2);
            float[] full = s.forward(x).toFloatArray();
            List<Mixer.DecodeState> st = s.newState(b, l);
            try {
                int[] at = new int[b];
                for (int r = 0; r < b; r++) {
                    float[] pre = s.prefill(x.narrow(0, r, 1).narrow(1, 0, prefix[r]), st, r).toFloatArray();
                    for (int t = 0; t < prefix[r]; t++) {
                        for (int c = 0; c < dim; c++) {
                            float want = full[(r * l + t) * dim + c];
                            assertEquals(want, pre[t * dim + c], 2e-4f + 2e-4f * Math.abs(want), layout + " prefill row " + r + " position " + t);
                        }
                    }
                    at[r] = prefix[r];
                }
                while (java.util.Arrays.stream(at).anyMatch(t -> t < l)) {
                    int[] rows = java.util.stream.IntStream.range(0, b).filter(r -> at[r] < l).toArray();
                    stepRowsAndCompare(layout, s, st, x, full, at, rows);
                }
            } finally {
                st.forEach(Mixer.DecodeState::close);
            }
        }
    }

    @Test
    void prefillThenStepEqualsForward() {
        assertPrefillThenStepEqualsForward("T1m1M1t1", -1);
        assertPrefillThenStepEqualsForward("t1m1", 2);
    }

    /** A prefill starts its row over: prefilling a row that already decoded gives what a fresh row gives. */
    @Test
    void prefillStartsTheRowOverAndRefusesBadInput() {
        Isotropic.Config cfg = new Isotropic.Config(16, 64, 2, 4, -1, 8, 4, 2, 8, 1);
        try (Isotropic s = new Isotropic("t1m1", cfg, new Generator(29)); Scope sc = Scope.open()) {
            Tensor seq = Tensor.randn(new Generator(30), 1, 5, 16), next = Tensor.randn(new Generator(31), 1, 1, 16);
            List<Mixer.DecodeState> fresh = s.newState(2, 8), used = s.newState(2, 8);
            try {
                s.prefill(seq, fresh, 1);
                float[] want = s.step(Tensor.cat(List.of(next, next), 0), fresh).toFloatArray();
                s.prefill(Tensor.randn(new Generator(32), 1, 7, 16), used, 1);
                s.step(Tensor.randn(new Generator(33), 2, 1, 16), used);
                s.prefill(seq, used, 1);
                float[] got = s.step(next, used, RowSubset.of(2, 1)).toFloatArray();
                assertArrayEquals(java.util.Arrays.copyOfRange(want, 16, 32), got, 1e-6f, "row 1 after a second prefill");
                IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> s.prefill(Tensor.randn(new Generator(34), 2, 3, 16), used, 0));
                assertTrue(bad.getMessage().contains("one sequence"), bad.getMessage());
                bad = assertThrows(IllegalArgumentException.class, () -> s.prefill(Tensor.randn(new Generator(35), 1, 9, 16), used, 0));
                assertTrue(bad.getMessage().contains("capacity 8"), bad.getMessage());
                assertThrows(IndexOutOfBoundsException.class, () -> s.prefill(seq, used, 2));
            } finally {
                fresh.forEach(Mixer.DecodeState::close);
                used.forEach(Mixer.DecodeState::close);
            }
        }
    }

    @Test
    void subsetStepsOfAttentionEqualForward() { assertSubsetStepEqualsForward("T1t1", -1); }

    @Test
    void subsetStepsOfSlidingWindowAttentionEqualForward() { assertSubsetStepEqualsForward("t1", 2); }

    @Test
    void subsetStepsOfMamba2EqualForward() { assertSubsetStepEqualsForward("m1M1", -1); }

    @Test
    void attentionStepEqualsForward() { assertStepEqualsForward("t2", -1); }

    @Test
    void slidingWindowAttentionStepEqualsForward() { assertStepEqualsForward("T1", 3); }

    @Test
    void mamba2StepEqualsForward() { assertStepEqualsForward("m2", -1); }

    @Test
    void mixedStackStepEqualsForward() { assertStepEqualsForward("T1m1M1t1", -1); }

    @Test
    void compositeLayersPassFloat64GradientChecks() {
        try (Isotropic s = new Isotropic("M1t1", small(8), new Generator(3)); Scope sc = Scope.open()) {
            s.castTo(DType.F64);
            Tensor x = Tensor.randn(new Generator(4), 2, 5, 8).to(DType.F64);
            GradCheck.check("isotropic M1t1 wrt x", in -> s.forward(in[0]), x);
            Parameter w = s.namedParameters().get("layers.0.mixer.in_proj.weight");
            GradCheck.checkParameter("isotropic M1t1 wrt in_proj", () -> s.forward(x), w);
            Parameter alog = s.namedParameters().get("layers.0.mixer.A_log");
            GradCheck.checkParameter("isotropic M1t1 wrt A_log", () -> s.forward(x), alog);
            Parameter conv = s.namedParameters().get("layers.0.mixer.conv1d.weight");
            GradCheck.checkParameter("isotropic M1t1 wrt conv1d", () -> s.forward(x), conv);
        }
    }

    @Test
    void badInputsNameTheLayer() {
        try (Mamba2 m = new Mamba2(16, 8, 4, 2, 8, 1, new Generator(1)); Scope sc = Scope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(2, 3, 12)));
            assertTrue(e.getMessage().contains("Mamba2") && e.getMessage().contains("[2, 3, 12]"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new CausalSelfAttention(10, 3, 0, -1, new Generator(1)));
    }
}
