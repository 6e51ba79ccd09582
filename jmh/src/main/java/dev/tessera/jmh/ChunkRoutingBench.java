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

/**
 * One H-Net stage's dynamic chunking forward (route + chunk + dechunk, the inner network taken as identity) on F32
 * [B, L, D], against copying the input bytes (q, k, x̂) with {@link MemorySegment#copy} (the bandwidth ceiling of
 * these memory-bound kernels) and against the same computed from runtime tensor ops (normalise, cosine, clamp,
 * index-select for the compaction, an EMA loop over chunks, index-select for the upsample).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class ChunkRoutingBench {
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

    @Benchmark
    public double unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open(); Grad.Region g = Grad.noGrad()) {
            int nb = batch, len = length, d = dim;
            // route: p = clamp((1 − ⟨q̂_{t−1}, k̂_t⟩)/2, 0, 1), p_0 = 1, b = p > 0.5
            Tensor qn = q.div(q.pow(2).sum(new int[] {2}, true).sqrt().clamp(1e-12, Double.MAX_VALUE));
            Tensor kn = k.div(k.pow(2).sum(new int[] {2}, true).sqrt().clamp(1e-12, Double.MAX_VALUE));
            Tensor cos = qn.narrow(1, 0, len - 1).mul(kn.narrow(1, 1, len - 1)).sum(new int[] {2}, false);
            Tensor p = cos.neg().add(1).mul(0.5).clamp(0, 1).pad(new int[] {1, 0}, 1);
            Tensor b = p.gt(Tensor.scalar(0.5));
            Tensor c = p.maximum(p.neg().add(1));
            // chunk: gather the boundary rows (positions found on the host, as boolean indexing does)
            int[] bits = b.toIntArray();
            int m = 0;
            int[] counts = new int[nb];
            for (int r = 0; r < nb; r++) {
                for (int t = 0; t < len; t++) counts[r] += bits[r * len + t];
                m = Math.max(m, counts[r]);
            }
            long[] rows = new long[nb * m], upsample = new long[nb * len];
            for (int r = 0; r < nb; r++) {
                int j = 0;
                for (int t = 0; t < len; t++) {
                    if (bits[r * len + t] != 0) rows[r * m + j++] = r * len + t;
                    upsample[r * len + t] = (long) r * m + j - 1;
                }
            }
            Tensor idx = Tensor.of(rows, nb * m);
            Tensor chunks = x.reshape(nb * len, d).indexSelect(0, idx).reshape(nb, m, d);
            Tensor prob = p.reshape(nb * len).indexSelect(0, idx).reshape(nb, m, 1).clamp(1e-4, 1 - 1e-4);
            // dechunk: EMA over the chunks, then upsample (×STE(c) = ×1 forward)
            List<Tensor> zbar = new ArrayList<>(m);
            Tensor prev = Tensor.zeros(nb, d);
            for (int j = 0; j < m; j++) {
                Tensor pj = prob.select(1, j);
                prev = pj.mul(chunks.select(1, j)).add(pj.neg().add(1).mul(prev));
                zbar.add(prev);
            }
            Tensor z = Tensor.stack(zbar, 1).reshape(nb * m, d);
            Tensor out = z.indexSelect(0, Tensor.of(upsample, nb * len)).reshape(nb, len, d);
            return out.numel() + c.numel();
        }
    }
}
