package dev.tessera.jmh.gpu;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.jmh.WeightRing;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A linear layer's product while decoding on CUDA, x [rows, in] · Wᵀ, with the weight kept in BF16 ({@code tessera}:
 * linear_bf16.cu reads it in place) against the same weight in F32 on cuBLAS ({@code f32Weights}); each call takes the
 * next of {@code layers} weights (hnet-1stage-L's MLP input projection, 8192 × 1536: 400 MB in F32 over eight, more
 * than the GPU's L2 holds), so both stream their weights from memory.
 */
public class CudaBf16WeightsBench extends JmhDefaults {
    @Param({"1", "8"}) public int rows;
    @Param({"1536"}) public int in;
    @Param({"8192"}) public int out;
    @Param({"8"}) public int layers;

    private Tensor x;
    private WeightRing weights;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(3);
        try (Scope s = Scope.open()) {
            x = s.keep(Tensor.randn(g, rows, in).to(GpuBench.GPU));
        }
        weights = new WeightRing(g, GpuBench.GPU, layers, out, in);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        weights.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            x.matmul(weights.bf16(weights.next()).t());
            GpuBench.sync();
        }
    }

    @Benchmark
    public void f32Weights() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            x.matmul(weights.f32(weights.next()).t());
            GpuBench.sync();
        }
    }
}
