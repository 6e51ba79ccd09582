package dev.tessera.jmh;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.Random;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Causal attention over packed documents, forward + backward, F32, at the shape of hnet-tiny's main network in a
 * training step: the chunks of 8 windows of 256 bytes (about 64 each, lengths drawn around that) packed into one row
 * of [1, 4, L, 24] with {@code cuSeqlens}, each chunk attending only within its window. {@code unfused}: the same
 * from runtime ops with a block-diagonal causal mask over the whole row, differentiated by autograd.
 */
public class PackedAttentionBench extends JmhDefaults {
    @Param({"8"}) public int documents;
    /** Mean document length; lengths are drawn uniformly within ±25 % of it. */
    @Param({"64"}) public int meanLength;
    @Param({"4"}) public int heads;
    @Param({"24"}) public int headDim;

    private Tensor q, k, v, dy, keep, negInf;
    private AttentionOptions packed;
    private double scale;

    @Setup(Level.Trial)
    public void setup() {
        Random r = new Random(7);
        int[] cu = new int[documents + 1];
        for (int d = 0; d < documents; d++) {
            int spread = meanLength / 4;
            cu[d + 1] = cu[d] + meanLength - spread + r.nextInt(2 * spread + 1);
        }
        int len = cu[documents];
        Generator g = new Generator(1);
        q = Tensor.randn(g, 1, heads, len, headDim).requiresGrad(true);
        k = Tensor.randn(g, 1, heads, len, headDim).requiresGrad(true);
        v = Tensor.randn(g, 1, heads, len, headDim).requiresGrad(true);
        dy = Tensor.randn(g, 1, heads, len, headDim);
        packed = AttentionOptions.builder().causal(true).cuSeqlens(cu).build();
        scale = 1 / Math.sqrt(headDim);
        boolean[] mask = new boolean[len * len];
        for (int d = 0; d < documents; d++) {
            for (int i = cu[d]; i < cu[d + 1]; i++) for (int j = cu[d]; j <= i; j++) mask[i * len + j] = true;
        }
        try (Scope s = Scope.open()) {
            keep = s.keep(Tensor.of(mask, len, len));
            negInf = s.keep(Tensor.scalar(Double.NEGATIVE_INFINITY, DType.F32));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {q, k, v, dy, keep, negInf}) t.close();
    }

    private void clearGrads() {
        for (Tensor t : new Tensor[] {q, k, v}) t.zeroGrad();
    }

    /** The fused kernel forward and backward (dq, dk, dv). */
    @Benchmark
    public double tessera() {
        clearGrads();
        try (Scope s = Scope.open()) {
            FlashAttention.apply(q, k, v, packed).backward(dy);
            return q.grad().numel();
        }
    }

    /** q·kᵀ, scale, the block-diagonal causal mask, softmax, ·v from runtime ops, and autograd's backward. */
    @Benchmark
    public double unfused() {
        clearGrads();
        try (Scope s = Scope.open()) {
            Tensor scores = q.matmul(k.transpose(2, 3)).mul(scale);
            scores.where(keep, negInf).softmax(-1).matmul(v).backward(dy);
            return q.grad().numel();
        }
    }
}
