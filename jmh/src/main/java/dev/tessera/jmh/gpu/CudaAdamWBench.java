package dev.tessera.jmh.gpu;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.jmh.Unfused;
import dev.tessera.kernels.optim.AdamWStep;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.DeviceBuffer;

/**
 * The fused AdamW step on CUDA, one F32 parameter of 16 M elements, against the update from runtime ops and a device
 * copy of the bytes it must move (read w, g, m, v; write w, m, v).
 */
public class CudaAdamWBench extends JmhDefaults {
    @Param({"16777216"}) public int n;

    private Tensor w, g, m, v;
    private DeviceBuffer src, dst;
    private final AdamWStep.Hyper h = new AdamWStep.Hyper(1e-3, 0.9, 0.95, 1e-8, 0.1, 0.5, 0.3);

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        try (Tensor a = Tensor.randn(gen, n); Tensor b = Tensor.randn(gen, n); Tensor z = Tensor.zeros(n)) {
            w = a.to(GpuBench.GPU);
            g = b.to(GpuBench.GPU);
            m = z.to(GpuBench.GPU);
            v = z.to(GpuBench.GPU);
        }
        long bytes = 7L * 4 * n / 2; // seven F32 streams: half read, half written by a copy
        src = GpuBench.device().temporary(bytes);
        dst = GpuBench.device().temporary(bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {w, g, m, v}) t.close();
        src.close();
        dst.close();
    }

    @Benchmark
    public void tessera() {
        AdamWStep.apply(w, g, m, v, h);
        GpuBench.sync();
    }

    @Benchmark
    public void unfused() {
        try (Scope s = Scope.open(); Grad.Region ng = Grad.noGrad()) {
            Unfused.adamw(w, g, m, v, h.lr(), h.beta1(), h.beta2(), h.eps(), h.weightDecay(), h.c1(), h.c2());
            GpuBench.sync();
        }
    }

    @Benchmark
    public void copySameBytes() {
        GpuBench.device().copyDeviceToDevice(src.address(), dst.address(), src.bytes());
        GpuBench.sync();
    }
}
