package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** {@link Init#forLoading()}: modules built there hold zeros, draw nothing, and take a strict load like any other. */
class InitForLoadingTest {
    private static Isotropic stack(Generator gen) {
        Isotropic s = new Isotropic("m1T1", new Isotropic.Config(32, 64, 4, 8, -1, 8, 4, 2, 8, 1), gen);
        s.initWeights(gen, s.height());
        return s;
    }

    @Test
    void buildsZerosWithoutDrawing() {
        Generator gen = new Generator(3);
        try (Init.LoadingRegion r = Init.forLoading(); Isotropic s = stack(gen); Isotropic other = stack(new Generator(4))) {
            assertEquals(0, gen.offset(), "nothing drawn");
            int drawnOtherwise = 0;
            for (var e : s.namedParameters().entrySet()) {
                float[] v = e.getValue().value().toFloatArray();
                assertArrayEquals(other.namedParameters().get(e.getKey()).value().toFloatArray(), v, e.getKey() + " depends on the seed");
                if (e.getKey().endsWith("proj.weight") || e.getKey().endsWith("conv1d.weight") || e.getKey().endsWith("fc1.weight")) {
                    drawnOtherwise++;
                    for (float x : v) assertEquals(0f, x, e.getKey());
                }
            }
            assertTrue(drawnOtherwise >= 5, "the stack's projections and convolution were checked: " + s.namedParameters().keySet());
        }
        assertFalse(Init.isLoading(), "the region ends with its try block");
        try (Isotropic s = stack(gen)) {
            assertTrue(gen.offset() > 0, "outside the region the initialisers draw again");
        }
    }

    @Test
    void regionsNestAndStayOnTheirThread() throws Exception {
        try (Init.LoadingRegion outer = Init.forLoading()) {
            try (Init.LoadingRegion inner = Init.forLoading()) {
                assertTrue(Init.isLoading());
            }
            assertTrue(Init.isLoading(), "closing the inner region keeps the outer one");
            assertFalse(CompletableFuture.supplyAsync(Init::isLoading).get(), "another thread initialises as usual");
        }
        assertFalse(Init.isLoading());
    }

    @Test
    void aStrictLoadFillsEveryParameter() {
        try (Isotropic trained = stack(new Generator(11)); Scope sc = Scope.open()) {
            Map<String, dev.tessera.runtime.Tensor> state = trained.stateDict();
            Isotropic loaded;
            try (Init.LoadingRegion r = Init.forLoading()) {
                loaded = stack(new Generator(0));
            }
            try (loaded) {
                loaded.loadStateDict(state, true);
                for (var e : trained.namedParameters().entrySet()) {
                    assertArrayEquals(e.getValue().value().toFloatArray(), loaded.namedParameters().get(e.getKey()).value().toFloatArray(), e.getKey());
                }
            }
        }
    }
}
