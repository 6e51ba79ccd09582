package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModuleTest {
    /** Two linears under dotted names, like a PyTorch state dict. */
    static final class TwoLayer extends Module {
        final Linear first, second;

        TwoLayer(Generator g) {
            first = module("first", new Linear(3, 4, true, g));
            second = module("second", new Linear(4, 2, false, g));
        }
    }

    @TempDir
    Path dir;

    @Test
    void namesCountsAndModes() {
        try (TwoLayer m = new TwoLayer(new Generator(1))) {
            assertEquals(List.of("first.weight", "first.bias", "second.weight"), List.copyOf(m.namedParameters().keySet()));
            assertEquals(3 * 4 + 4 + 4 * 2, m.parameterCount());
            assertTrue(m.isTraining());
            m.eval();
            assertTrue(!m.first.isTraining());
        }
    }

    @Test
    void linearComputesXWtPlusB() {
        try (Linear l = new Linear(2, 2, true, new Generator(3)); Scope s = Scope.open()) {
            l.weight().set(Tensor.of(new float[] {1, 2, 3, 4}, 2, 2));
            l.bias().set(Tensor.of(new float[] {10, 20}, 2));
            Tensor y = l.forward(Tensor.of(new float[] {1, 1, 2, 0}, 2, 2));
            // rows: [1,1]·W^T = [1+2, 3+4]; [2,0]·W^T = [2, 6]; plus bias
            assertArrayEquals(new float[] {13, 27, 12, 26}, y.toFloatArray());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.forward(Tensor.ones(2, 3)));
            assertTrue(e.getMessage().contains("Linear(2→2)"));
        }
    }

    @Test
    void parametersSurviveScopesAndTrain() {
        try (TwoLayer m = new TwoLayer(new Generator(5))) {
            Tensor x, y;
            try (Scope s = Scope.open()) {
                x = Tensor.randn(new Generator(6), 8, 3);
                y = m.second.forward(m.first.forward(x).tanh());
                y.pow(2).mean().backward();
            }
            for (Parameter p : m.parameters()) {
                assertTrue(!p.value().isReleased(), "parameters outlive the scope");
                assertTrue(p.grad() != null && !p.grad().isReleased(), "gradients outlive the scope");
            }
            m.zeroGrad();
            for (Parameter p : m.parameters()) assertEquals(null, p.grad());
        }
    }

    @Test
    void stateDictRoundTripsThroughSafetensors() {
        Path p = dir.resolve("m.safetensors");
        try (TwoLayer a = new TwoLayer(new Generator(1)); TwoLayer b = new TwoLayer(new Generator(2)); Scope s = Scope.open()) {
            SafeTensors.write(p, a.stateDict(), Map.of());
            b.loadStateDict(SafeTensors.read(p), true);
            for (var e : a.stateDict().entrySet()) {
                assertArrayEquals(e.getValue().toFloatArray(), b.stateDict().get(e.getKey()).toFloatArray(), e.getKey());
            }
        }
    }

    @Test
    void loadStateDictRefusesMismatchesBeforeWritingAnything() {
        try (TwoLayer a = new TwoLayer(new Generator(1)); Scope s = Scope.open()) {
            float[] before = a.first.weight().value().toFloatArray();
            Map<String, Tensor> missing = new java.util.LinkedHashMap<>(a.stateDict());
            missing.remove("second.weight");
            missing.put("first.weight", Tensor.zeros(4, 3));
            IllegalArgumentException e1 = assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(missing, true));
            assertTrue(e1.getMessage().contains("second.weight"), e1.getMessage());
            Map<String, Tensor> extra = new java.util.LinkedHashMap<>(a.stateDict());
            extra.put("third.weight", Tensor.zeros(1));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(extra, true)).getMessage().contains("third.weight"));
            Map<String, Tensor> wrong = new java.util.LinkedHashMap<>(a.stateDict());
            wrong.put("first.bias", Tensor.zeros(4));
            wrong.put("second.weight", Tensor.zeros(3, 3));
            IllegalArgumentException e3 = assertThrows(IllegalArgumentException.class, () -> a.loadStateDict(wrong, true));
            assertTrue(e3.getMessage().contains("'second.weight' has shape [3, 3]"), e3.getMessage());
            assertArrayEquals(before, a.first.weight().value().toFloatArray(), "nothing was written");
        }
    }
}
