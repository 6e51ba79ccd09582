package dev.tessera.jmh;

import dev.tessera.runtime.cpu.Gemm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A linear layer's weight gradient on the CPU, {@code dW = gᵀ·x} with g [rows, m] and x [rows, n] read in place (the
 * left operand transposed), Tessera's GEMM (packing included) against OpenBLAS's {@code cblas_sgemm} with
 * {@code CblasTrans}, on all cores of the pool. Shapes from hnet-tiny, 2,048 rows a step: its input projection
 * (m = 296, n = 64), and the same transposed the other way (m = 64, n = 296), which is how {@code Functional.linear}
 * now computes a widening layer's gradient before copying the small result transposed; its output projection (64 ×
 * 128) and its router's and residual's (64 × 64).
 */
@State(Scope.Benchmark)
public class WeightGradientGemmBench extends JmhDefaults {
    @Param({"2048"})
    int rows;
    @Param({"296x64", "64x296", "64x128", "64x64"})
    String shape;

    private int m, n;
    private Arena arena;
    private MemorySegment g, x, c;

    @Setup(Level.Trial)
    public void setup() {
        String[] mn = shape.split("x");
        m = Integer.parseInt(mn[0]);
        n = Integer.parseInt(mn[1]);
        arena = Arena.ofShared();
        g = RandomSegments.uniform(arena, (long) rows * m, 1);
        x = RandomSegments.uniform(arena, (long) rows * n, 2);
        c = arena.allocate((long) m * n * Float.BYTES, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment tessera() {
        // A = gᵀ: element (i, p) = g[p, i], at i·1 + p·m
        Gemm.sgemm(m, n, rows, g, 0, 1, m, x, 0, n, 1, c, 0, n, false);
        return c;
    }

    @Benchmark
    public MemorySegment openblas(BlasState blas) {
        blas.lib.sgemmTransposedA(m, n, rows, g, x, c);
        return c;
    }
}
