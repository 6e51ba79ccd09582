package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The profiler counts each matrix product's floating-point operations (2·m·n·k, batched products once per batch
 * entry, the backward's products too) under {@code matmul}, whichever route the product takes; other ops count none.
 */
class ProfilerFlopsTest {
    private final Generator gen = new Generator(5);

    @AfterEach
    void off() {
        Profiler.disable();
        Profiler.reset();
    }

    private static long matmulFlops() {
        Profiler.OpStats s = Profiler.snapshot().get("matmul");
        return s == null ? 0 : s.flops();
    }

    @Test
    void everyRouteOfAProductCountsTwiceItsMultiplyAdds() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(gen, 3, 4), b = Tensor.randn(gen, 4, 5), a3 = Tensor.randn(gen, 2, 3, 4), b3 = Tensor.randn(gen, 2, 4, 5);
            Tensor w16 = Tensor.randn(gen, 5, 4).to(DType.BF16), a64 = a.to(DType.F64), b64 = b.to(DType.F64);
            Tensor big = Tensor.randn(gen, 70, 90), bigB = Tensor.randn(gen, 90, 33);
            Profiler.reset();
            Profiler.enable();
            a.matmul(b);
            assertEquals(2L * 3 * 4 * 5, matmulFlops(), "[3,4] x [4,5]");
            a3.matmul(b); // batch dimensions folded into the rows
            assertEquals(2L * 3 * 4 * 5 * 3, matmulFlops(), "[2,3,4] x [4,5] adds 2·6·4·5");
            a3.matmul(b3); // a batched product
            assertEquals(2L * 3 * 4 * 5 * 5, matmulFlops(), "[2,3,4] x [2,4,5] adds 2·2·3·4·5");
            a.matmul(w16.t()); // BF16 weights read in place
            assertEquals(2L * 3 * 4 * 5 * 6, matmulFlops(), "F32 [3,4] x BF16 [4,5]");
            a64.matmul(b64);
            assertEquals(2L * 3 * 4 * 5 * 7, matmulFlops(), "F64 [3,4] x [4,5]");
            big.matmul(bigB); // the blocked kernel, its work split over threads
            assertEquals(2L * 3 * 4 * 5 * 7 + 2L * 70 * 90 * 33, matmulFlops(), "[70,90] x [90,33]");
            Profiler.OpStats stats = Profiler.snapshot().get("matmul");
            assertEquals(6, stats.calls());
            assertTrue(stats.gflopsPerSecond() > 0, "a rate from the counted operations and the time: " + stats);
            big.add(big);
            assertEquals(0, Profiler.snapshot().get("binary.ADD").flops(), "elementwise ops count none");
            assertTrue(Double.isNaN(Profiler.snapshot().get("binary.ADD").gflopsPerSecond()));
        }
    }

    @Test
    void theBackwardOfAProductCountsItsTwoProducts() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(gen, 6, 7).requiresGrad(true), b = Tensor.randn(gen, 7, 8).requiresGrad(true);
            Tensor loss = a.matmul(b).sum();
            Profiler.reset();
            Profiler.enable();
            loss.backward();
            assertEquals(2 * (2L * 6 * 7 * 8), matmulFlops(), "dA = g·Bᵀ and dB = Aᵀ·g, each 2·6·7·8");
        }
    }

    @Test
    void nothingIsCountedWhileTheProfilerIsOff() {
        try (Scope s = Scope.open()) {
            Profiler.reset();
            Tensor.randn(gen, 3, 4).matmul(Tensor.randn(gen, 4, 5));
            assertNull(Profiler.snapshot().get("matmul"));
        }
    }
}
