package dev.tessera.nn;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;

/** A lookup table [num, dim], initialised N(0, 1) as in PyTorch. */
public final class Embedding extends Module {
    private final Parameter weight;

    public Embedding(int num, int dim, Generator gen) {
        if (num <= 0 || dim <= 0) throw new IllegalArgumentException("Embedding: sizes must be positive, got " + num + "×" + dim);
        this.weight = parameter("weight", new Parameter(Init.normal(gen, 1, num, dim)));
    }

    public Parameter weight() { return weight; }

    /** Integer indices [...] → [..., dim]. */
    public Tensor forward(Tensor indices) { return weight.value().embedding(indices); }
}
