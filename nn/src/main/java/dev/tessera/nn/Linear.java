package dev.tessera.nn;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Tensor;

/**
 * y = x·Wᵀ + b, with W [out, in] as PyTorch stores it. Default init is PyTorch's: W and b uniform in
 * ±1/√in; models re-initialise as their papers say.
 */
public final class Linear extends Module {
    private final Parameter weight;
    private final Parameter bias;
    private final int in, out;

    public Linear(int in, int out, boolean bias, Generator gen) {
        if (in <= 0 || out <= 0) throw new IllegalArgumentException("Linear: sizes must be positive, got in=" + in + ", out=" + out);
        this.in = in;
        this.out = out;
        double bound = 1 / Math.sqrt(in);
        this.weight = parameter("weight", new Parameter(Init.uniform(gen, bound, out, in)));
        this.bias = bias ? parameter("bias", new Parameter(Init.uniform(gen, bound, out), true)) : null;
    }

    public Parameter weight() { return weight; }

    /** The bias, or null. */
    public Parameter bias() { return bias; }

    public int inFeatures() { return in; }

    public int outFeatures() { return out; }

    /** 2·in·out per position (the bias's adds left out, as elementwise ops are). */
    @Override public ForwardFlops forwardFlops(double positions) { return ForwardFlops.matmul(2.0 * in * out * positions); }

    /** x [..., in] → [..., out]. */
    public Tensor forward(Tensor x) {
        if (x.dim() == 0 || x.size(-1) != in) {
            throw new IllegalArgumentException("Linear(" + in + "→" + out + "): input shape " + java.util.Arrays.toString(x.shape())
                    + " does not end in " + in);
        }
        Tensor w = weight.value(), b = bias == null ? null : bias.value();
        if (x.dtype() != w.dtype() || (b != null && b.dtype() != w.dtype())) {
            // Mixed dtypes: the product's own promotion (and casts, under autocast).
            Tensor y = x.matmul(w.t());
            return b == null ? y : y.add(b);
        }
        return Functional.linear(x, w, b); // one recorded op; under autocast on CUDA its BF16 products keep their casts
    }
}
