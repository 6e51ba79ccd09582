package dev.tessera.jmh.gpu;

import dev.tessera.jmh.ConvStepOperands;
import dev.tessera.jmh.JmhDefaults;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One decoding step of Mamba-2's convolution on CUDA at hnet-1stage-L's encoder width (C = 2,304: d_inner 2,048 plus B
 * and C of 128; width 4), one row or 64: the fused step against the unfused one (concatenate, convolve all K
 * positions, keep the last, copy the state back; four launches; {@link ConvStepOperands}).
 */
public class CudaConvStepBench extends JmhDefaults {
    @Param({"1", "64"}) public int batch;
    @Param({"2304"}) public int channels;

    private ConvStepOperands operands;

    @Setup(Level.Trial)
    public void setup() { operands = new ConvStepOperands(batch, channels, GpuBench.GPU); }

    @TearDown(Level.Trial)
    public void tearDown() { operands.close(); }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            operands.fused();
            GpuBench.sync();
        }
    }

    @Benchmark
    public void unfused() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            operands.unfused();
            GpuBench.sync();
        }
    }
}
