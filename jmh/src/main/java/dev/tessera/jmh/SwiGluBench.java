package dev.tessera.jmh;

import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/** The worked-example kernel, fused SwiGLU on [4096, 2·2048] F32, against the same math from unfused runtime ops. */
public class SwiGluBench extends JmhDefaults {
    @Param({"2048"})
    public int f;

    private Tensor x;

    @Setup(Level.Trial)
    public void setup() { x = Tensor.randn(new Generator(1), 4096, 2 * f); }

    @TearDown(Level.Trial)
    public void tearDown() { x.close(); }

    @Benchmark
    public long tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return SwiGlu.apply(x).numel();
        }
    }

    @Benchmark
    public long unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return Unfused.swiglu(x).numel();
        }
    }
}
