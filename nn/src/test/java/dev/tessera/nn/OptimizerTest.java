package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptimizerTest {
    private static Map<String, Parameter> one(String name, Parameter p) {
        Map<String, Parameter> m = new LinkedHashMap<>();
        m.put(name, p);
        return m;
    }

    /** Gives p the gradient g by backpropagating sum(p·g). */
    private static void setGrad(Parameter p, float[] g) {
        try (Scope s = Scope.open()) {
            p.value().mul(Tensor.of(g, g.length)).sum().backward();
        }
    }

    @Test
    void adamWMatchesTheFormulaOverTwoSteps() {
        double lr = 0.1, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
        try (Parameter p = new Parameter(Tensor.of(new float[] {1, -2}, 2))) {
            AdamW opt = new AdamW(List.of(new Optimizer.Group("g", one("w", p), 1.0)), lr, b1, b2, eps, wd);
            double[] w = {1, -2}, m = new double[2], v = new double[2];
            float[][] grads = {{0.5f, -1}, {2, 0.25f}};
            for (int t = 1; t <= 2; t++) {
                p.zeroGrad();
                setGrad(p, grads[t - 1]);
                opt.step();
                for (int i = 0; i < 2; i++) {
                    double g = grads[t - 1][i];
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    w[i] *= 1 - lr * wd;
                    w[i] -= lr * (m[i] / (1 - Math.pow(b1, t))) / (Math.sqrt(v[i] / (1 - Math.pow(b2, t))) + eps);
                }
                float[] got = p.value().toFloatArray();
                assertEquals(w[0], got[0], 1e-5);
                assertEquals(w[1], got[1], 1e-5);
            }
            assertEquals(2, opt.stepCount());
            opt.close();
        }
    }

    @Test
    void noWeightDecayParametersAreNotDecayedAndGroupsScaleTheRate() {
        try (Parameter bias = new Parameter(Tensor.of(new float[] {1}, 1), true); Parameter w = new Parameter(Tensor.of(new float[] {1}, 1))) {
            Sgd opt = new Sgd(List.of(new Optimizer.Group("a", one("b", bias), 1.0), new Optimizer.Group("b", one("w", w), 3.0)), 0.1, 0);
            setGrad(bias, new float[] {1});
            setGrad(w, new float[] {1});
            opt.step();
            assertEquals(0.9f, bias.value().toFloatArray()[0], 1e-6);
            assertEquals(0.7f, w.value().toFloatArray()[0], 1e-6);
            AdamW adam = new AdamW(List.of(new Optimizer.Group("a", one("b", bias), 1.0)), 0.1, 0.5);
            bias.zeroGrad();
            setGrad(bias, new float[] {0}); // zero gradient: only decay could move it
            float before = bias.value().toFloatArray()[0];
            adam.step();
            assertEquals(before, bias.value().toFloatArray()[0], 1e-6);
            adam.close();
        }
    }

    @Test
    void sgdMomentumAccumulates() {
        try (Parameter p = new Parameter(Tensor.of(new float[] {0}, 1))) {
            Sgd opt = new Sgd(List.of(new Optimizer.Group("g", one("p", p), 1.0)), 1.0, 0.5);
            for (int i = 0; i < 3; i++) {
                p.zeroGrad();
                setGrad(p, new float[] {1});
                opt.step();
            }
            // buffers 1, 1.5, 1.75 → p = −4.25
            assertEquals(-4.25f, p.value().toFloatArray()[0], 1e-6);
            opt.close();
        }
    }

    @Test
    void clippingScalesToTheMaxNorm() {
        try (Parameter a = new Parameter(Tensor.of(new float[] {0, 0}, 2)); Parameter b = new Parameter(Tensor.of(new float[] {0}, 1))) {
            setGrad(a, new float[] {3, 0});
            setGrad(b, new float[] {4});
            double norm = GradClip.clipByGlobalNorm(List.of(a, b), 1.0);
            assertEquals(5.0, norm, 1e-6);
            assertEquals(0.6f, a.grad().toFloatArray()[0], 1e-5);
            assertEquals(0.8f, b.grad().toFloatArray()[0], 1e-5);
            assertThrows(IllegalArgumentException.class, () -> GradClip.clipByGlobalNorm(List.of(a), 0));
        }
    }

    @Test
    void schedules() {
        LrSchedule cos = LrSchedule.warmupCosine(1.0, 10, 110, 0.1);
        assertEquals(0.1, cos.at(0), 1e-12);
        assertEquals(1.0, cos.at(9), 1e-12);
        assertEquals(0.55, cos.at(60), 1e-12);
        assertEquals(0.1, cos.at(110), 1e-12);
        LrSchedule wsd = LrSchedule.warmupStableDecay(2.0, 100, 0.1, 0.2);
        assertEquals(0.2, wsd.at(0), 1e-12);
        assertEquals(2.0, wsd.at(50), 1e-12);
        assertEquals(2.0, wsd.at(80), 1e-12);
        assertEquals(2.0 * (1 - Math.sqrt(0.5)), wsd.at(90), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.warmupStableDecay(1, 10, 0.6, 0.6));
    }

    /** The same shape over a continuous progress (a time budget's share): equal to the step form at step/total. */
    @Test
    void warmupStableDecayOverProgress() {
        LrSchedule wsd = LrSchedule.warmupStableDecay(2.0, 100, 0.1, 0.2);
        for (int step : new int[] {9, 10, 50, 79, 80, 90, 99}) {
            // the step form's warm-up counts step + 1 (its first step is not lr 0)
            double progress = step < 10 ? (step + 1) / 100.0 : step / 100.0;
            assertEquals(wsd.at(step), LrSchedule.warmupStableDecayAt(2.0, progress, 0.1, 0.2), 1e-12, "step " + step);
        }
        assertEquals(0.02, LrSchedule.warmupStableDecayAt(2.0, 0, 0.1, 0.2), 1e-12); // floor: peak/100
        assertEquals(1.0, LrSchedule.warmupStableDecayAt(2.0, 0.05, 0.1, 0.2), 1e-12);
        assertEquals(0.0, LrSchedule.warmupStableDecayAt(2.0, 1, 0.1, 0.2), 1e-12);
        assertEquals(0.0, LrSchedule.warmupStableDecayAt(2.0, 1.5, 0.1, 0.2), 1e-12);
        assertEquals(2.0, LrSchedule.warmupStableDecayAt(2.0, 0.5, 0, 0), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.warmupStableDecayAt(1, 0.5, 0.6, 0.6));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.warmupStableDecayAt(1, Double.NaN, 0.1, 0.2));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.warmupStableDecayAt(1, -0.1, 0.1, 0.2));
    }

    /**
     * Loading saved state into a fresh optimizer creates each tensor like its parameter: a CUDA model resumed from a
     * file (whose tensors are read on the CPU) gets its state on the GPU (here a dry-run device), an F64 model F64.
     */
    @Test
    void loadedStateTakesItsParametersDeviceAndDtype() {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.tessera.runtime.RuntimeInfo.kernelsDescription().startsWith("none"),
                "no PTX in this build (no nvcc): the dry-run device has no kernels to check");
        dev.tessera.kernels.testing.DryRunDevices.install(7);
        dev.tessera.runtime.Device cuda = dev.tessera.runtime.Device.cuda(7);
        try (Parameter onGpu = new Parameter(Tensor.zeros(3).to(cuda));
             Parameter wide = new Parameter(Tensor.zeros(dev.tessera.runtime.DType.F64, 2));
             Optimizer opt = new AdamW(List.of(new Optimizer.Group("all", Map.of("w", onGpu, "v", wide), 1.0)), 0.1, 0.0)) {
            Map<String, Tensor> saved = new LinkedHashMap<>();
            saved.put("exp_avg.w", Tensor.of(new float[] {1, 2, 3}, 3));
            saved.put("exp_avg_sq.v", Tensor.of(new float[] {4, 5}, 2));
            opt.loadStateDict(saved, 5);
            assertEquals(cuda, opt.stateDict().get("exp_avg.w").device());
            assertEquals(dev.tessera.runtime.DType.F64, opt.stateDict().get("exp_avg_sq.v").dtype());
            org.junit.jupiter.api.Assertions.assertArrayEquals(new double[] {4, 5}, opt.stateDict().get("exp_avg_sq.v").toDoubleArray());
            assertEquals(5, opt.stepCount());
            var e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(Map.of("exp_avg.nope", Tensor.zeros(2)), 6));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("exp_avg.nope"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(Map.of("exp_avg.v", Tensor.zeros(3)), 6));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("[2]"), e.getMessage());
        }
    }

    @Test
    void stateLoadsFromAFileOneTensorAtATimeAfterEveryCheck(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        java.nio.file.Path file = dir.resolve("state.safetensors");
        try (Parameter w = new Parameter(Tensor.zeros(3)); Parameter v = new Parameter(Tensor.zeros(2));
             Optimizer opt = new AdamW(List.of(new Optimizer.Group("all", Map.of("w", w, "v", v), 1.0)), 0.1, 0.0);
             dev.tessera.runtime.Scope sc = dev.tessera.runtime.Scope.open()) {
            Map<String, Tensor> saved = new LinkedHashMap<>();
            saved.put("model.w", Tensor.of(new float[] {9, 9, 9}, 3)); // not optimizer state: left out by under()
            saved.put("optim.exp_avg.w", Tensor.of(new float[] {1, 2, 3}, 3));
            saved.put("optim.exp_avg_sq.v", Tensor.of(new float[] {4, 5}, 2));
            SafeTensors.write(file, saved, Map.of());
            try (SafeTensors.Reader r = SafeTensors.open(file)) {
                opt.loadStateDict(r.under("optim."), 7);
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {1, 2, 3}, opt.stateDict().get("exp_avg.w").toFloatArray());
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {4, 5}, opt.stateDict().get("exp_avg_sq.v").toFloatArray());
            assertEquals(7, opt.stepCount());
            assertEquals(2, opt.stateDict().size());
            // a bad entry anywhere is refused before any state is written
            saved.put("optim.exp_avg.w", Tensor.of(new float[] {7, 7, 7}, 3));
            saved.put("optim.exp_avg_sq.v", Tensor.zeros(5));
            SafeTensors.write(file, saved, Map.of());
            try (SafeTensors.Reader r = SafeTensors.open(file)) {
                var e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(r.under("optim."), 8));
                org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("exp_avg_sq.v"), e.getMessage());
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(new float[] {1, 2, 3}, opt.stateDict().get("exp_avg.w").toFloatArray());
            assertEquals(7, opt.stepCount());
        }
    }
}
