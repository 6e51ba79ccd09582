package dev.tessera.jmh;

import dev.tessera.kernels.norm.GatedRmsNorm;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Mamba-2's gated RMSNorm forward + backward at hnet-tiny's outer layer size: x [8, 256, 128], the gate z a slice of
 * the layer's input projection [8, 256, 296] (as in the layer, so its gradient is assembled into the projection's).
 * {@code tessera} runs the fused kernel; {@code unfused} the same math from runtime ops (SiLU, product, RMSNorm and
 * their backward).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class GatedRmsNormBench extends JmhDefaults {
    @Param({"128"}) public int d;

    private Tensor proj, x, w, dy;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        proj = Tensor.randn(g, 8, 256, 2 * d + 40).requiresGrad(true);
        x = Tensor.randn(g, 8, 256, d).requiresGrad(true);
        w = Tensor.randn(g, d).requiresGrad(true);
        dy = Tensor.randn(g, 8, 256, d);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {proj, x, w, dy}) t.close();
    }

    private long run(boolean fused) {
        for (Tensor t : new Tensor[] {proj, x, w}) t.zeroGrad();
        try (Scope s = Scope.open()) {
            Tensor z = proj.mul(1).narrow(2, 0, d); // an intermediate, as the projection's output is in the layer
            Tensor y = fused ? GatedRmsNorm.apply(x, z, w, 1e-5) : Unfused.gatedRmsNorm(x, z, w, 1e-5);
            y.backward(dy);
            return proj.grad().numel();
        }
    }

    @Benchmark
    public long tessera() { return run(true); }

    @Benchmark
    public long unfused() { return run(false); }
}
