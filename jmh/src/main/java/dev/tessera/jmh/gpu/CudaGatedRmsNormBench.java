package dev.tessera.jmh.gpu;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.jmh.Unfused;
import dev.tessera.kernels.norm.GatedRmsNorm;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * The gated RMSNorm on CUDA, forward + backward, x [16·2048, 1024] F32 with the gate a slice of a [16·2048, 2304]
 * projection, against unfused runtime ops.
 */
public class CudaGatedRmsNormBench extends JmhDefaults {
    @Param({"32768"}) public int rows;
    @Param({"1024"}) public int dim;

    private Tensor proj, x, w, dy;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        proj = onGpu(Tensor.randn(g, rows, 2 * dim + 256)).requiresGrad(true);
        x = onGpu(Tensor.randn(g, rows, dim)).requiresGrad(true);
        w = onGpu(Tensor.randn(g, dim)).requiresGrad(true);
        dy = onGpu(Tensor.randn(g, rows, dim));
    }

    private static Tensor onGpu(Tensor host) {
        try (host) {
            return host.to(GpuBench.GPU);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {proj, x, w, dy}) t.close();
    }

    private void run(boolean fused) {
        for (Tensor t : new Tensor[] {proj, x, w}) t.zeroGrad();
        try (Scope s = Scope.open()) {
            Tensor z = proj.mul(1).narrow(1, 0, dim);
            Tensor y = fused ? GatedRmsNorm.apply(x, z, w, 1e-5) : Unfused.gatedRmsNorm(x, z, w, 1e-5);
            y.backward(dy);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void tessera() { run(true); }

    @Benchmark
    public void unfused() { run(false); }
}
