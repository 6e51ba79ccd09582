package dev.tessera.jmh;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One decoding step of Mamba-2's convolution at hnet-tiny's encoder size (C = 160 channels, width 4; one row, or
 * eight): the fused step against the unfused one it replaced in Mamba2.step — concatenate the state and the new
 * input, convolve all K positions, keep the last, copy the state back ({@link ConvStepOperands}).
 */
public class CausalConvStepBench extends JmhDefaults {
    @Param({"1", "8"})
    public int batch;
    @Param({"160"})
    public int channels;

    private ConvStepOperands operands;

    @Setup(Level.Trial)
    public void setup() { operands = new ConvStepOperands(batch, channels, Device.cpu()); }

    @TearDown(Level.Trial)
    public void tearDown() { operands.close(); }

    @Benchmark
    public long tessera() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return operands.fused().numel();
        }
    }

    @Benchmark
    public long unfused() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return operands.unfused().numel();
        }
    }
}
