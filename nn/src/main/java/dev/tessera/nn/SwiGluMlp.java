package dev.tessera.nn;

import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;

/**
 * The gated MLP of H-Net's blocks: fc1 (D → 2F, no bias) split into (u, g) in that order,
 * out = fc2(SiLU(g)·u) with fc2 (F → D, no bias). F is rounded up to a multiple of 128.
 */
public final class SwiGluMlp extends Module {
    private final Linear fc1, fc2;

    public SwiGluMlp(int dim, int intermediate, Generator gen) {
        int f = roundUp(intermediate, 128);
        this.fc1 = module("fc1", new Linear(dim, 2 * f, false, gen));
        this.fc2 = module("fc2", new Linear(f, dim, false, gen));
    }

    static int roundUp(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

    public Linear fc1() { return fc1; }

    public Linear fc2() { return fc2; }

    public Tensor forward(Tensor x) { return fc2.forward(SwiGlu.apply(fc1.forward(x))); }
}
