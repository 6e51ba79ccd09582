package dev.tessera.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** The API example of README.md, run as written, plus what it promises. */
class ReadmeExampleTest {
    @Test
    void readmeExampleRunsAndFreesItsTensors() {
        long before = MemoryStats.cpuLiveBytes();
        float[] grad;
        try (Scope scope = Scope.open()) {
            Generator gen = new Generator(42);
            Tensor w = Tensor.randn(gen, 4, 3).requiresGrad(true);
            Tensor x = Tensor.randn(gen, 8, 4);
            Tensor loss = x.matmul(w).relu().pow(2).mean();
            loss.backward();
            System.out.println(w.grad());
            assertNotNull(w.grad());
            assertArrayEquals(new int[] {4, 3}, w.grad().shape());
            grad = w.grad().toFloatArray();
        }
        assertEquals(before, MemoryStats.cpuLiveBytes(), "the scope released every tensor made inside it");
        double norm = 0;
        for (float g : grad) norm += g * g;
        assertTrue(norm > 0, "the gradient is not all zero");
    }
}
