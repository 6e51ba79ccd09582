package dev.tessera.jmh;

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
 * in F32, 25 MB in BF16), each call taking the next of {@code layers} such weights as a model's layers follow each
 * other: eight of them hold 400 / 200 MB, more than any cache here (32 MB of L3, which one BF16 weight alone would
 * fit), so the product runs at the speed memory delivers the weights.
 */
public class Bf16WeightsDecodeBench extends JmhDefaults {
    @Param({"1"})
    public int rows;
    @Param({"1536"})
    public int in;
    @Param({"8192"})
    public int out;
    @Param({"8"})
    public int layers;

    private Tensor x;
    private WeightRing weights;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(3);
        x = Tensor.randn(g, rows, in);
        weights = new WeightRing(g, dev.tessera.runtime.Device.cpu(), layers, out, in);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        weights.close();
    }

    @Benchmark
    public double tessera() {
        try (Scope s = Scope.open()) {
            return x.matmul(weights.bf16(weights.next()).t()).numel();
        }
    }

    @Benchmark
    public double f32Weights() {
        try (Scope s = Scope.open()) {
            return x.matmul(weights.f32(weights.next()).t()).numel();
        }
    }
}
