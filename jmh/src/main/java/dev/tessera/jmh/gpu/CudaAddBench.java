package dev.tessera.jmh.gpu;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.DeviceBuffer;

/**
 * F32 add of two 64M-element CUDA tensors against a device-to-device copy moving the same bytes (an add reads 2n
 * and writes n floats; the copy moves 1.5n floats each way). Target ≥ 0.8×. Each invocation waits for the GPU.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class CudaAddBench {
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
