package dev.tessera.jmh.gpu;

import dev.tessera.jmh.JmhDefaults;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.DeviceBuffer;

/**
 * F32 add of two 64M-element CUDA tensors against a device-to-device copy moving the same bytes (an add reads 2n
 * and writes n floats; the copy moves 1.5n floats each way). Target ≥ 0.8×. Each invocation waits for the GPU.
 */
public class CudaAddBench extends JmhDefaults {
    @Param({"67108864"})
    public int n;

    private Tensor a, b;
    private DeviceBuffer src, dst;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        try (Tensor ha = Tensor.rand(g, n); Tensor hb = Tensor.rand(g, n)) {
            a = ha.to(GpuBench.GPU);
            b = hb.to(GpuBench.GPU);
        }
        src = GpuBench.device().temporary(6L * n);
        dst = GpuBench.device().temporary(6L * n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        src.close();
        dst.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open()) {
            a.add(b);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void copySameBytes() {
        GpuBench.device().copyDeviceToDevice(src.address(), dst.address(), 6L * n);
        GpuBench.sync();
    }
}
