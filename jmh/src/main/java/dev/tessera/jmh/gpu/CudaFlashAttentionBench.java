package dev.tessera.jmh.gpu;

import dev.tessera.jmh.JmhDefaults;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * BF16 flash attention forward on CUDA (the mma.sync tensor-core path at head dim 64/128). FLOPs per call:
 * 4·B·H·L²·P, halved when causal; TFLOP/s = that × ops/s / 1e12. Target ≥ 0.5× PyTorch's fused SDPA at L = 4096
 * (compare with torch.nn.functional.scaled_dot_product_attention on the same shapes).
 */
public class CudaFlashAttentionBench extends JmhDefaults {
    @Param({"4"})
    public int batch;

    @Param({"16"})
    public int heads;

    @Param({"4096"})
    public int length;

    @Param({"64", "96", "128"})
    public int headDim;

    @Param({"false", "true"})
    public boolean causal;

    private Tensor q, k, v, mask;

    @Setup(Level.Trial)
    public void setup() {
        q = make(1);
        k = make(2);
        v = make(3);
        // Additive causal mask for the unfused baseline: −inf above the diagonal.
        try (Scope s = Scope.open()) {
            mask = s.keep(Tensor.full(Double.NEGATIVE_INFINITY, DType.F32, GpuBench.GPU, length, length).triu(1).to(DType.BF16));
        }
    }

    private Tensor make(long seed) {
        try (Tensor h = Tensor.randn(new Generator(seed), batch, heads, length, headDim)) {
            return h.to(DType.BF16).to(GpuBench.GPU);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        q.close();
        k.close();
        v.close();
        mask.close();
    }

    @Benchmark
    @SuppressWarnings("try")
    public void tessera() {
        try (Scope s = Scope.open(); Grad.Region r = Grad.noGrad()) {
            FlashAttention.forward(q, k, v, AttentionOptions.builder().causal(causal).build());
            GpuBench.sync();
        }
    }

    /** softmax(Q·Kᵀ/√d (+ causal mask))·V from runtime ops (cuBLAS products, the row softmax): L×L scores in memory. */
    @Benchmark
    @SuppressWarnings("try")
    public void unfused() {
        try (Scope s = Scope.open(); Grad.Region r = Grad.noGrad()) {
            Tensor scores = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(headDim));
            if (causal) scores = scores.add(mask);
            scores.softmax(-1).to(DType.BF16).matmul(v);
            GpuBench.sync();
        }
    }
}
