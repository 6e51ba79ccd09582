package dev.tessera.jmh;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Softmax over the rows of a [16384, 1024] F32 tensor (16M elements), against copying the output's bytes with
 * {@link MemorySegment#copy} (the memory-bandwidth ceiling such a kernel works under).
 */
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SoftmaxBench extends JmhDefaults {
    @Param({"16777216"})
    public int n;

    private Tensor a;
    private MemorySegment src, dst;
    private Arena arena;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        a = Tensor.rand(g, n / 1024, 1024);
        arena = Arena.ofShared();
        src = arena.allocate(4L * n, 64);
        dst = arena.allocate(4L * n, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        arena.close();
    }

    /** Out-of-place add, allocation of the result included, as a user calls it. */
    @Benchmark
    public double tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor c = a.softmax(-1);
            return c.numel();
        }
    }

    @Benchmark
    public long copy() {
        MemorySegment.copy(src, 0, dst, 0, 4L * n);
        return dst.byteSize();
    }
}
