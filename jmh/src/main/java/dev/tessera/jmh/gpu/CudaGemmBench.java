package dev.tessera.jmh.gpu;

import dev.tessera.jmh.JmhDefaults;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.Cublas;
import dev.tessera.runtime.cuda.DeviceBuffer;

/**
 * BF16 n×n×n product through {@code Tensor.matmul} (output allocated from the caching allocator, as a user calls it)
 * against the same {@code cublasGemmStridedBatchedEx} call made directly into a preallocated output. Target ≥ 0.95×.
 * Random data, never zeros (cuBLAS runs faster on zeros). TFLOP/s = 2n³ × score / 1e12 (gpu-check.sh prints it).
 */
public class CudaGemmBench extends JmhDefaults {
    @Param({"4096", "8192"})
    public int n;

    private Tensor a, b;
    private DeviceBuffer c;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(3);
        try (Scope s = Scope.open()) {
            a = s.keep(Tensor.randn(g, n, n).to(DType.BF16).to(GpuBench.GPU));
            b = s.keep(Tensor.randn(g, n, n).to(DType.BF16).to(GpuBench.GPU));
        }
        c = GpuBench.device().temporary(2L * n * n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open()) {
            a.matmul(b);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void cublasDirect() {
        // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: B first, both op N, ld = n.
        Cublas.gemmStridedBatched(GpuBench.device(), Cublas.OP_N, Cublas.OP_N, n, n, n, 1.0,
                address(b), Cublas.R_16BF, n, 0, address(a), Cublas.R_16BF, n, 0,
                0.0, c.address(), Cublas.R_16BF, n, 0, 1, Cublas.COMPUTE_32F);
        GpuBench.sync();
    }

    private static long address(Tensor t) { return t.deviceAddress(); }
}
