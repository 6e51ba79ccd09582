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

import dev.tessera.jmh.Unfused;
import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.DeviceBuffer;

/** Fused SwiGLU on CUDA, [16384, 2·4096] F32, against unfused runtime ops and a device copy of the same bytes (read 2F, write F). */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class CudaSwiGluBench {
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
