package dev.tessera.jmh;

import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.kernels.routing.Chunks;
import dev.tessera.kernels.routing.Routing;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One H-Net stage's dynamic chunking forward (route + chunk + dechunk, the inner network taken as identity) on F32
 * [B, L, D], against copying the input bytes (q, k, x̂) with {@link MemorySegment#copy} (the bandwidth ceiling of
 * these memory-bound kernels) and against the same computed from runtime tensor ops (normalise, cosine, clamp,
 * index-select for the compaction, an EMA loop over chunks, index-select for the upsample).
 */
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ChunkRoutingBench extends JmhDefaults {
    @Param({"8"})
    public int batch;
    @Param({"4096"})
    public int length;
    @Param({"512"})
    public int dim;

    private Tensor q, k, x;
    private MemorySegment src, dst;
    private Arena arena;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        x = Tensor.randn(g, batch, length, dim);
        // Keys correlated with the previous query, so that cos ≈ 0.4σ above 0 and about a third of the positions are boundaries.
        q = x;
        Tensor shifted = x.narrow(1, 0, length - 1).pad(new int[] {0, 0, 1, 0, 0, 0}, 0);
        k = shifted.mul(0.02).add(Tensor.randn(g, batch, length, dim));
        arena = Arena.ofShared();
        long bytes = 3L * 4 * batch * length * dim;
        src = arena.allocate(bytes, 64);
        dst = arena.allocate(bytes, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        q.close();
        k.close();
        x.close();
        arena.close();
    }

    @Benchmark
    public double tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open(); Grad.Region g = Grad.noGrad()) {
            Routing r = ChunkRouter.route(q, k);
            Chunks ch = ChunkRouter.chunk(x, r.b());
            Tensor out = ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c());
            return out.numel();
        }
    }

    @Benchmark
    public long copy() {
        MemorySegment.copy(src, 0, dst, 0, src.byteSize());
        return dst.byteSize();
    }

    /** Route, chunk and dechunk from runtime ops, boolean indexing on the host ({@link Unfused#routing}). */
    @Benchmark
    public double unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open(); Grad.Region g = Grad.noGrad()) {
            return Unfused.routing(q, k, x);
        }
    }
}
