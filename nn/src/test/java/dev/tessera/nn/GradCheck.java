package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.function.Function;
import java.util.function.Supplier;

/** Float64 central differences (eps 1e-6, atol 1e-5, rtol 1e-3) of a random projection of a layer's output. */
final class GradCheck {
    private GradCheck() {}

    static final double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3;

    /** Checks d f / d inputs[0] (an F64 tensor). */
    static void check(String name, Function<Tensor[], Tensor> f, Tensor x) {
        x.requiresGrad(true);
        Tensor out = f.apply(new Tensor[] {x});
        Tensor proj = Tensor.randn(new Generator(99), out.shape()).to(out.dtype());
        out.mul(proj).sum().backward();
        double[] analytic = x.grad().toDoubleArray();
        double[] v = x.toDoubleArray();
        for (int i = 0; i < v.length; i++) {
            double keep = v[i];
            double plus, minus;
            try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                v[i] = keep + EPS;
                plus = f.apply(new Tensor[] {Tensor.of(v, x.shape())}).mul(proj).sum().item();
                v[i] = keep - EPS;
                minus = f.apply(new Tensor[] {Tensor.of(v, x.shape())}).mul(proj).sum().item();
                v[i] = keep;
            }
            double numeric = (plus - minus) / (2 * EPS);
            assertTrue(Math.abs(analytic[i] - numeric) <= ATOL + RTOL * Math.abs(numeric),
                    name + ": element " + i + " analytic " + analytic[i] + " vs numeric " + numeric);
        }
    }

    /** Checks d f / d p for a parameter used inside {@code f}. */
    static void checkParameter(String name, Supplier<Tensor> f, Parameter p) {
        p.zeroGrad();
        Tensor out = f.get();
        Tensor proj = Tensor.randn(new Generator(98), out.shape()).to(out.dtype());
        out.mul(proj).sum().backward();
        double[] analytic = p.grad().toDoubleArray();
        double[] v = p.value().toDoubleArray();
        int stride = Math.max(1, v.length / 40); // a spread sample of the entries keeps the check fast
        for (int i = 0; i < v.length; i += stride) {
            double keep = v[i];
            double plus, minus;
            try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                v[i] = keep + EPS;
                p.set(Tensor.of(v, p.shape()));
                plus = f.get().mul(proj).sum().item();
                v[i] = keep - EPS;
                p.set(Tensor.of(v, p.shape()));
                minus = f.get().mul(proj).sum().item();
                v[i] = keep;
                p.set(Tensor.of(v, p.shape()));
            }
            double numeric = (plus - minus) / (2 * EPS);
            assertTrue(Math.abs(analytic[i] - numeric) <= ATOL + RTOL * Math.abs(numeric),
                    name + ": element " + i + " analytic " + analytic[i] + " vs numeric " + numeric);
        }
    }
}
