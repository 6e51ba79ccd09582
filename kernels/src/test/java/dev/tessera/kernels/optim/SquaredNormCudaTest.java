package dev.tessera.kernels.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.kernels.testing.DryRunDevices;
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

    /** 150 tensors of two dtypes: batches of at most 64 per launch, the CPU's sum. */
    @Test
    void manyTensorsMatchTheCpu() {
        CudaTests.assumeGpu();
        try (Scope s = Scope.open()) {
            Generator g = new Generator(8);
            List<Tensor> cpu = new ArrayList<>(), gpu = new ArrayList<>();
            for (int i = 0; i < 150; i++) {
                Tensor t = Tensor.randn(g, i * 53 % 900 + 1).to(i % 3 == 0 ? DType.F64 : DType.F32);
                cpu.add(t);
                gpu.add(t.to(Device.cuda(0)));
            }
            double want = SquaredNorm.of(cpu), got = SquaredNorm.of(gpu);
            assertEquals(want, got, 1e-12 * want);
        }
        DryRunDevices.install(7);
        DryRunDevices.clearLaunches(7);
        try (Scope s = Scope.open()) {
            List<Tensor> ts = new ArrayList<>();
            for (int i = 0; i < 150; i++) ts.add(Tensor.zeros(5).to(i % 3 == 0 ? DType.F64 : DType.F32).to(Device.cuda(7)));
            SquaredNorm.of(ts);
            assertEquals(List.of("sq_partials_f64", "sq_partials_f32", "sq_partials_f32", "sq_finish"), DryRunDevices.launchLog(7));
        }
    }

    /** One launch of partial sums per dtype present (empty tensors take none), one to finish. */
    @Test
    void oneLaunchPerDtype() {
        CudaTests.assumeGpu();
        DryRunDevices.install(7);
        DryRunDevices.clearLaunches(7);
        try (Scope s = Scope.open()) {
            Device dry = Device.cuda(7);
            List<Tensor> ts = List.of(Tensor.zeros(3).to(dry), Tensor.zeros(2, 700).to(DType.F64).to(dry), Tensor.zeros(0).to(DType.BF16).to(dry),
                    Tensor.zeros(300_000).to(dry), Tensor.zeros(9).to(DType.F64).to(dry));
            SquaredNorm.of(ts);
            assertEquals(List.of("sq_partials_f32", "sq_partials_f64", "sq_finish"), DryRunDevices.launchLog(7));
        }
    }
}
