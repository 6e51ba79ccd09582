package dev.tessera.jmh;

import dev.tessera.kernels.optim.AdamWStep;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/** One fused AdamW step of an F32 parameter against the same update composed from runtime ops (what AdamW did). */
public class AdamWBench extends JmhDefaults {
    @Param({"65536", "4194304"})
    public int n;

    private Tensor w, g, m, v;
    private final AdamWStep.Hyper h = new AdamWStep.Hyper(1e-3, 0.9, 0.95, 1e-8, 0.1, 0.5, 0.3);

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        w = Tensor.randn(gen, n);
        g = Tensor.randn(gen, n);
        m = Tensor.zeros(n);
        v = Tensor.zeros(n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {w, g, m, v}) t.close();
    }

    @Benchmark
    public long tessera() {
        AdamWStep.apply(w, g, m, v, h);
        return n;
    }

    @Benchmark
    public long unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open(); Grad.Region ng = Grad.noGrad()) {
            Unfused.adamw(w, g, m, v, h.lr(), h.beta1(), h.beta2(), h.eps(), h.weightDecay(), h.c1(), h.c2());
            return n;
        }
    }
}
