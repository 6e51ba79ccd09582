package dev.tessera.jmh.gpu;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.jmh.Unfused;
import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.DeviceBuffer;

/** Fused SwiGLU on CUDA, [16384, 2·4096] F32, against unfused runtime ops and a device copy of the same bytes (read 2F, write F). */
public class CudaSwiGluBench extends JmhDefaults {
    @Param({"4096"}) public int f;

    private Tensor x;
    private DeviceBuffer src, dst;

    @Setup(Level.Trial)
    public void setup() {
        try (Tensor h = Tensor.randn(new Generator(1), 16384, 2 * f)) {
            x = h.to(GpuBench.GPU);
        }
        long bytes = 3L * 4 * 16384 * f / 2;
        src = GpuBench.device().temporary(bytes);
        dst = GpuBench.device().temporary(bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        src.close();
        dst.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open()) {
            SwiGlu.apply(x);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void unfused() {
        try (Scope s = Scope.open()) {
            Unfused.swiglu(x);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void copySameBytes() {
        GpuBench.device().copyDeviceToDevice(src.address(), dst.address(), src.bytes());
        GpuBench.sync();
    }
}
