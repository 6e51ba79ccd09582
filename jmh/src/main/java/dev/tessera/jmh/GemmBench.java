package dev.tessera.jmh;

import dev.tessera.runtime.cpu.CpuInfo;
import dev.tessera.runtime.cpu.Gemm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Square float32 GEMM, {@code C = A·B} with M = N = K = {@code size}, Tessera against OpenBLAS's
 * {@code cblas_sgemm}, both on all cores of the pool ({@code tessera.threads}, default: every core) and both on
 * the same row-major, contiguous, 64-byte-aligned off-heap operands. Tessera's time includes packing, as
 * OpenBLAS's does. Score is calls per second; GFLOP/s = score · 2·size³ / 1e9.
 *
 * <p>If OpenBLAS cannot be loaded, {@code openblas} fails in its setup with the reason and the run goes on.
 */
@State(Scope.Benchmark)
public class GemmBench extends JmhDefaults {
    @Param({"256", "512", "1024", "2048"})
    int size;

    private Arena arena;
    private MemorySegment a, b, c;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        long bytes = (long) size * size * Float.BYTES;
        a = arena.allocate(bytes, 64);
        b = arena.allocate(bytes, 64);
        c = arena.allocate(bytes, 64);
        SplittableRandom r = new SplittableRandom(42);
        for (long i = 0; i < (long) size * size; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
            b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
        }
        System.out.println("Tessera CPU backend: " + CpuInfo.describe());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment tessera() {
        Gemm.sgemm(size, size, size, a, 0, size, 1, b, 0, size, 1, c, 0, size, false);
        return c;
    }

    @Benchmark
    public MemorySegment openblas(BlasState blas) {
        blas.lib.sgemm(size, size, size, a, b, c);
        return c;
    }
}
