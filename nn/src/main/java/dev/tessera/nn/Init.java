package dev.tessera.nn;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/** Parameter initialisers, all seeded through a {@link Generator}. */
public final class Init {
    private Init() {}

    /** N(0, std²). */
    public static Tensor normal(Generator gen, double std, int... shape) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return s.keep(Tensor.randn(gen, shape).mul(std));
        }
    }

    /** U(−bound, bound). */
    public static Tensor uniform(Generator gen, double bound, int... shape) {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return s.keep(Tensor.rand(gen, shape).mul(2 * bound).sub(bound));
        }
    }

    /** Re-initialises {@code p} with N(0, std²) in place. */
    public static void normal(Parameter p, Generator gen, double std) {
        try (Scope s = Scope.open()) {
            p.set(normal(gen, std, p.shape()));
        }
    }

    /** Sets {@code p} to a constant. */
    public static void constant(Parameter p, double v) {
        try (Scope s = Scope.open()) {
            p.set(Tensor.full(v, DType.F32, p.shape()));
        }
    }
}
