package dev.tessera.jmh;

import dev.tessera.kernels.rotary.Rotary;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Fused rotary embedding, forward and backward, on q as attention holds it (a strided view of the QKV projection,
 * [B, H, L, P] F32), against the same math from unfused runtime ops. Shapes: hnet-tiny's main network (8 × 4 heads ×
 * 64 chunks, head dim 24, 12 rotated channels) and a larger layer (8 × 8 heads × 512, head dim 64, 32 rotated).
 */
public class RotaryBench extends JmhDefaults {
    /** heads × length × head dim × rotated channels. */
    @Param({"4x64x24x12", "8x512x64x32"})
    public String shape;

    private Tensor qkv, q, cos, sin, dy;

    @Setup(Level.Trial)
    public void setup() {
        String[] f = shape.split("x");
        int b = 8, h = Integer.parseInt(f[0]), l = Integer.parseInt(f[1]), p = Integer.parseInt(f[2]), half = Integer.parseInt(f[3]) / 2;
        qkv = Tensor.randn(new Generator(1), b, l, 3, h, p);
        q = qkv.permute(2, 0, 3, 1, 4).select(0, 0).requiresGrad(true);
        cos = Tensor.rand(new Generator(2), l, half);
        sin = Tensor.rand(new Generator(3), l, half);
        dy = Tensor.randn(new Generator(4), b, h, l, p);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {qkv, cos, sin, dy}) t.close();
    }

    @Benchmark
    public long tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor y = Rotary.apply(q, cos, sin);
            y.backward(dy);
            q.zeroGrad();
            return y.numel();
        }
    }

    @Benchmark
    public long unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor y = Unfused.rotary(q, cos, sin);
            y.backward(dy);
            q.zeroGrad();
            return y.numel();
        }
    }
}
