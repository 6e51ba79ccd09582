package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GradScalerTest {
    @Test
    void scalesUnscalesSkipsOnOverflowAndGrows() {
        try (Parameter p = new Parameter(Tensor.of(new float[] {1, 2}, 2))) {
            Sgd opt = new Sgd(List.of(new Optimizer.Group("g", Map.of("p", p), 1.0)), 0.1, 0);
            GradScaler sc = new GradScaler(1024, 2, 0.5, 2, true);
            try (Scope s = Scope.open()) {
                sc.scaleLoss(p.value().mul(Tensor.of(new float[] {3, 4}, 2)).sum()).backward();
            }
            assertEquals(3 * 1024f, p.grad().toFloatArray()[0], 1e-3);
            assertTrue(sc.step(opt, List.of(p)));
            // the update used the unscaled gradient: 1 − 0.1·3, 2 − 0.1·4
            assertEquals(0.7f, p.value().toFloatArray()[0], 1e-6);
            assertEquals(1.6f, p.value().toFloatArray()[1], 1e-6);
            p.zeroGrad();
            try (Scope s = Scope.open()) { // an overflowing gradient
                sc.scaleLoss(p.value().mul(Tensor.of(new float[] {Float.POSITIVE_INFINITY, 1}, 2)).sum()).backward();
            }
            assertFalse(sc.step(opt, List.of(p)), "the step is skipped");
            assertEquals(0.7f, p.value().toFloatArray()[0], 1e-6, "parameters unchanged");
            assertEquals(512, sc.scale());
            assertEquals(1, sc.skippedSteps());
            for (int i = 0; i < 2; i++) {
                p.zeroGrad();
                try (Scope s = Scope.open()) {
                    sc.scaleLoss(p.value().sum()).backward();
                }
                assertTrue(sc.step(opt, List.of(p)));
            }
            assertEquals(1024, sc.scale(), "grows after two clean steps");
            opt.close();
        }
        GradScaler off = GradScaler.defaults(false);
        assertEquals(1, off.scale());
    }
}
