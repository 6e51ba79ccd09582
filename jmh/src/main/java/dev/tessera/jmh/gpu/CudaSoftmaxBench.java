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

/** Row softmax of an F32 [rows, cols] CUDA tensor against a device copy of the same bytes (read n, write n). Target ≥ 0.7×. */
public class CudaSoftmaxBench extends JmhDefaults {
    @Param({"65536"})
    public int rows;

    @Param({"1024"})
    public int cols;

    private Tensor x;
    private DeviceBuffer src, dst;

    @Setup(Level.Trial)
    public void setup() {
        try (Tensor h = Tensor.randn(new Generator(2), rows, cols)) {
            x = h.to(GpuBench.GPU);
        }
        src = GpuBench.device().temporary(4L * rows * cols);
        dst = GpuBench.device().temporary(4L * rows * cols);
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
            x.softmax(-1);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void copySameBytes() {
        GpuBench.device().copyDeviceToDevice(src.address(), dst.address(), 4L * rows * cols);
        GpuBench.sync();
    }
}
