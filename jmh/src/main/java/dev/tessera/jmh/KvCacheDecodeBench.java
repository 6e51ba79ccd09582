package dev.tessera.jmh;

import dev.tessera.kernels.attention.KvCache;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One decoding step's attention on the CPU: a query per row over a {@link KvCache} holding {@code length} positions
 * of a buffer of twice that capacity (so the keys are a view with gaps, as while decoding). {@code tessera} is
 * {@link KvCache#attend}; {@code unfused} the same from runtime ops on the cache's used prefix (q·kᵀ, scale, softmax,
 * ·v; every key is visible to the newest query, so no mask). Defaults: hnet-tiny's main network (4 heads of 24)
 * after about 16 k bytes of generation (4,096 chunks), one row.
 */
public class KvCacheDecodeBench extends JmhDefaults {
    @Param({"1"})
    public int batch;
    @Param({"4"})
    public int heads;
    @Param({"4096"})
    public int length;
    @Param({"24"})
    public int headDim;

    private KvCache cache;
    private Tensor q, k, v;
    private double scale;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        cache = KvCache.create(batch, heads, 2 * length, headDim, DType.F32);
        try (Scope s = Scope.open()) {
            cache.append(Tensor.randn(g, batch, heads, length, headDim), Tensor.randn(g, batch, heads, length, headDim));
        }
        q = Tensor.randn(g, batch, heads, 1, headDim);
        k = Tensor.randn(g, batch, heads, length, headDim);
        v = Tensor.randn(g, batch, heads, length, headDim);
        scale = 1 / Math.sqrt(headDim);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cache.close();
        for (Tensor t : new Tensor[] {q, k, v}) t.close();
    }

    @Benchmark
    public double tessera() {
        try (Scope s = Scope.open()) {
            return cache.attend(q).numel();
        }
    }

    @Benchmark
    public double unfused() {
        try (Scope s = Scope.open()) {
            return q.matmul(k.transpose(2, 3)).mul(scale).softmax(-1).matmul(v).numel();
        }
    }
}
