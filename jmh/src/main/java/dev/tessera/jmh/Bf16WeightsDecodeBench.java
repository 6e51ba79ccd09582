package dev.tessera.jmh;

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
 * A linear layer's product while decoding, x [rows, in] · Wᵀ, with the weight kept in BF16 ({@code tessera}: the
 * product reads the BF16 values in place) against the same weight in F32 ({@code f32Weights}); both give the same
 * bits (Bf16WeightProductTest). Defaults: one row through hnet-1stage-L's MLP input projection (W [8192, 1536], 50 MB
 * in F32), which no cache holds, so the product runs at the speed memory delivers the weight.
 */
public class Bf16WeightsDecodeBench extends JmhDefaults {
    @Param({"1"})
    public int rows;
    @Param({"1536"})
    public int in;
    @Param({"8192"})
    public int out;

    private Tensor x, wBf16, wF32;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(3);
        x = Tensor.randn(g, rows, in);
        try (Scope s = Scope.open()) {
            wBf16 = s.keep(Tensor.randn(g, out, in).to(DType.BF16));
            wF32 = s.keep(wBf16.to(DType.F32));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, wBf16, wF32}) t.close();
    }

    @Benchmark
    public double tessera() {
        try (Scope s = Scope.open()) {
            return x.matmul(wBf16.t()).numel();
        }
    }

    @Benchmark
    public double f32Weights() {
        try (Scope s = Scope.open()) {
            return x.matmul(wF32.t()).numel();
        }
    }
}
