package dev.tessera.jmh;

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
 * One decoding step of Mamba-2's convolution at hnet-tiny's encoder size (C = 160 channels, width 4; one row, or
 * eight): the fused step against the unfused one it replaced in Mamba2.step — concatenate the state and the new
 * input, convolve all K positions, keep the last, copy the state back.
 */
public class CausalConvStepBench extends JmhDefaults {
    @Param({"1", "8"})
    public int batch;
    @Param({"160"})
    public int channels;

    private static final int K = 4;
    private Tensor state, x, weight, bias;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        state = Tensor.randn(g, batch, K - 1, channels);
        x = Tensor.randn(g, batch, channels);
        weight = Tensor.randn(g, channels, K);
        bias = Tensor.randn(g, channels);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {state, x, weight, bias}) t.close();
    }

    @Benchmark
    public long tessera() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return CausalConvStep.apply(state, x, weight, bias).numel();
        }
    }

    @Benchmark
    public long unfused() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Tensor window = Tensor.cat(List.of(state, x.unsqueeze(1)), 1);
            Tensor y = Functional.causalConv1d(window, weight, bias).narrow(1, K - 1, 1);
            state.copyFrom(window.narrow(1, 1, K - 1));
            return y.numel();
        }
    }
}
