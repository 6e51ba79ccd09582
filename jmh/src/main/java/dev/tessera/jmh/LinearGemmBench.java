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
 * A linear layer's two other products on the CPU, with W [out, in] read in place: the forward y = x·Wᵀ (x [rows, in])
 * and the input gradient dx = g·W (g [rows, out]). Tessera's GEMM (packing included) against OpenBLAS's
 * {@code cblas_sgemm} with the same layouts, on all cores of the pool. Shapes from hnet-tiny, 2,048 rows a step
 * ({@code in x out}): a Mamba-2 layer's input projection 64 × 296 and output projection 128 × 64, and the byte
 * head 64 × 256. The weight gradient is {@link WeightGradientGemmBench}.
 */
@State(Scope.Benchmark)
public class LinearGemmBench extends JmhDefaults {
    @Param({"2048"})
    int rows;
    @Param({"64x296", "128x64", "64x256"})
    String shape;
    @Param({"forward", "inputGradient"})
    String pass;

    private int in, out;
    private Arena arena;
    private MemorySegment x, w, g, y, dx;

    @Setup(Level.Trial)
    public void setup() {
        String[] io = shape.split("x");
        in = Integer.parseInt(io[0]);
        out = Integer.parseInt(io[1]);
        arena = Arena.ofShared();
        x = RandomSegments.uniform(arena, (long) rows * in, 1);
        w = RandomSegments.uniform(arena, (long) out * in, 2);
        g = RandomSegments.uniform(arena, (long) rows * out, 3);
        y = arena.allocate((long) rows * out * Float.BYTES, 64);
        dx = arena.allocate((long) rows * in * Float.BYTES, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public MemorySegment tessera() {
        if (pass.equals("forward")) { // B = Wᵀ: element (p, j) = W[j, p], at p·1 + j·in
            Gemm.sgemm(rows, out, in, x, 0, in, 1, w, 0, 1, in, y, 0, out, false);
            return y;
        }
        Gemm.sgemm(rows, in, out, g, 0, out, 1, w, 0, in, 1, dx, 0, in, false);
        return dx;
    }

    @Benchmark
    public MemorySegment openblas(BlasState blas) {
        if (pass.equals("forward")) {
            blas.lib.sgemmTransposedB(rows, out, in, x, w, y);
            return y;
        }
        blas.lib.sgemm(rows, in, out, g, w, dx);
        return dx;
    }
}
