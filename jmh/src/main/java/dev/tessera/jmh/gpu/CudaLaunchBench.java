package dev.tessera.jmh.gpu;

import dev.tessera.jmh.JmhDefaults;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;

import dev.tessera.runtime.cuda.CudaDevice;

/**
 * The cost of launching an empty kernel from Java, in µs: {@code enqueue} is the host-side cost per launch in
 * steady state (the stream's queue stays full), {@code launchAndWait} a launch followed by a stream synchronise.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class CudaLaunchBench extends JmhDefaults {
    private CudaDevice d;

    @Setup
    public void setup() {
        d = GpuBench.device();
        d.kernel("device", "empty_any").grid(1).block(1).launch();
        d.synchronize("warm-up");
    }

    @Benchmark
    public void enqueue() { d.kernel("device", "empty_any").grid(1).block(32).launch(); }

    @Benchmark
    public void launchAndWait() {
        d.kernel("device", "empty_any").grid(1).block(32).launch();
        d.synchronize("benchmark");
    }
}
