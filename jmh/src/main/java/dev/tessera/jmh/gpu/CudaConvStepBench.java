package dev.tessera.jmh.gpu;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.kernels.conv.CausalConvStep;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One decoding step of Mamba-2's convolution on CUDA at hnet-1stage-L's encoder width (C = 2,304: d_inner 2,048 plus B
 * and C of 128; width 4), one row or 64: the fused step against the unfused one (concatenate, convolve all K
 * positions, keep the last, copy the state back; four launches).
 */
public class CudaConvStepBench extends JmhDefaults {
    @Param({"1", "64"}) public int batch;
    @Param({"2304"}) public int channels;

    private static final int K = 4;
    private Tensor state, x, weight, bias;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        try (Scope s = Scope.open()) {
            state = s.keep(Tensor.randn(g, batch, K - 1, channels).to(GpuBench.GPU));
            x = s.keep(Tensor.randn(g, batch, channels).to(GpuBench.GPU));
            weight = s.keep(Tensor.randn(g, channels, K).to(GpuBench.GPU));
            bias = s.keep(Tensor.randn(g, channels).to(GpuBench.GPU));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {state, x, weight, bias}) t.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            CausalConvStep.apply(state, x, weight, bias);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void unfused() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor window = Tensor.cat(List.of(state, x.unsqueeze(1)), 1);
            Functional.causalConv1d(window, weight, bias).narrow(1, K - 1, 1);
            state.copyFrom(window.narrow(1, 1, K - 1));
            GpuBench.sync();
        }
    }
}
