package dev.tessera.jmh;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * A model's layers for a memory-bound benchmark: {@code layers} random weights [out, in] on a device, each kept in
 * BF16 and, with the same values, in F32; {@link #next} steps through them in turn, so that the working set exceeds
 * the caches as a model's layers do (one weight alone may fit a cache in one dtype and not in the other).
 */
public final class WeightRing implements AutoCloseable {
    private final Tensor[] bf16, f32;
    private int next;

    public WeightRing(Generator g, Device device, int layers, int out, int in) {
        bf16 = new Tensor[layers];
        f32 = new Tensor[layers];
        for (int i = 0; i < layers; i++) {
            try (Scope s = Scope.open()) {
                Tensor w = Tensor.randn(g, out, in).to(DType.BF16);
                bf16[i] = s.keep(w.to(device));
                f32[i] = s.keep(w.to(DType.F32).to(device));
            }
        }
    }

    /** Moves to the next layer; returns its index. */
    public int next() {
        next = (next + 1) % bf16.length;
        return next;
    }

    /** Layer i's weight in BF16. */
    public Tensor bf16(int i) { return bf16[i]; }

    /** Layer i's weight in F32 (the BF16 values widened). */
    public Tensor f32(int i) { return f32[i]; }

    @Override
    public void close() {
        for (int i = 0; i < bf16.length; i++) {
            bf16[i].close();
            f32[i].close();
        }
    }
}
