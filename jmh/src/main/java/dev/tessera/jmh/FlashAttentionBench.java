package dev.tessera.jmh;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Causal flash attention forward, F32, q, k, v [B,H,L,P], against the unfused composition of runtime ops
 * ({@code softmax(mask(q·kᵀ·scale))·v}, which materialises the B·H·L×L scores three times). FLOPs per call:
 * 4·B·H·L²·P / 2 (causal).
 */
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class FlashAttentionBench extends JmhDefaults {
    @Param({"1"})
    public int batch;
    @Param({"8"})
    public int heads;
    @Param({"1024"})
    public int length;
    @Param({"64"})
    public int headDim;

    private Tensor q, k, v, keep, negInf;
    private AttentionOptions causal;
    private double scale;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        q = Tensor.randn(g, batch, heads, length, headDim);
        k = Tensor.randn(g, batch, heads, length, headDim);
        v = Tensor.randn(g, batch, heads, length, headDim);
        causal = AttentionOptions.builder().causal(true).build();
        scale = 1 / Math.sqrt(headDim);
        // The causal mask is a constant of the shape: built once, as a model would cache it.
        try (var s = dev.tessera.runtime.Scope.open()) {
            keep = s.keep(Tensor.ones(length, length).tril(0).ne(Tensor.scalar(0)));
            negInf = s.keep(Tensor.scalar(Double.NEGATIVE_INFINITY, DType.F32));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {q, k, v, keep, negInf}) t.close();
    }

    /** The fused kernel, allocation of the result included. */
    @Benchmark
    public double tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return FlashAttention.apply(q, k, v, causal).numel();
        }
    }

    /** q·kᵀ, scale, causal mask with where, softmax, ·v: runtime ops one after the other. */
    @Benchmark
    public double unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor scores = q.matmul(k.transpose(2, 3)).mul(scale);
            Tensor p = scores.where(keep, negInf).softmax(-1);
            return p.matmul(v).numel();
        }
    }
}
