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
 * Elementwise add of two F32 tensors of 16M elements, against {@link MemorySegment#copy} moving the same number of
 * bytes: an add reads 2n floats and writes n (3n in all), so the baseline copies 1.5n floats (read 1.5n, write 1.5n).
 * The throughput ratio is then the ratio of memory bandwidths, which is what the target (≥ 0.7×) is about.
 */
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AddBench extends JmhDefaults {
    @Param({"16777216"})
    public int n;

    private Tensor a, b;
    private MemorySegment src, dst;
    private Arena arena;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        a = Tensor.rand(g, n);
        b = Tensor.rand(g, n);
        arena = Arena.ofShared();
        src = arena.allocate(6L * n, 64);
        dst = arena.allocate(6L * n, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        arena.close();
    }

    /** Out-of-place add, allocation of the result included, as a user calls it. */
    @Benchmark
    public double tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor c = a.add(b);
            return c.numel();
        }
    }

    @Benchmark
    public long copy() {
        MemorySegment.copy(src, 0, dst, 0, 6L * n); // 1.5n floats: the bytes an add moves
        return dst.byteSize();
    }
}
