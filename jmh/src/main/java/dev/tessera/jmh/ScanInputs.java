package dev.tessera.jmh;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;

/** The random Mamba-2 scan inputs every scan benchmark (CPU and GPU) times: the same draws for the same shape. */
public final class ScanInputs {
    private ScanInputs() {}

    /**
     * {x [B,L,H,P], dt [B,L,H] in [0.001, 0.101), A [H] in (−1.5, −0.5], Bm [B,L,G,N], Cm [B,L,G,N]}, F32 on the CPU
     * (the caller owns them).
     */
    public static Tensor[] mamba2(Generator gen, int b, int l, int h, int p, int n, int g) {
        return new Tensor[] {
            Tensor.randn(gen, b, l, h, p),
            Tensor.rand(gen, b, l, h).mul(0.1).add(0.001),
            Tensor.rand(gen, h).add(0.5).neg(),
            Tensor.randn(gen, b, l, g, n),
            Tensor.randn(gen, b, l, g, n)};
    }
}
