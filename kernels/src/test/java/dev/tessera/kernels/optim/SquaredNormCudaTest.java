package dev.tessera.kernels.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA Σ x² against the CPU's, and the same bits twice (no atomics). */
@Tag("gpu")
class SquaredNormCudaTest {
    @Test
    void matchesTheCpuAndRepeatsItsBits() {
        CudaTests.assumeGpu();
        try (Scope s = Scope.open()) {
            Generator g = new Generator(6);
            List<Tensor> cpu = List.of(Tensor.randn(g, 1), Tensor.randn(g, 3, 1037), Tensor.randn(g, 2_000_003).to(DType.F64),
                    Tensor.randn(g, 4099).to(DType.BF16), Tensor.zeros(0));
            List<Tensor> gpu = new ArrayList<>();
            for (Tensor t : cpu) gpu.add(t.to(Device.cuda(0)));
            double want = SquaredNorm.of(cpu), got = SquaredNorm.of(gpu);
            assertEquals(want, got, 1e-12 * want);
            assertEquals(got, SquaredNorm.of(gpu), 0);
        }
    }
}
