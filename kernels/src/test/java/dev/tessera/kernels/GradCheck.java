package dev.tessera.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.function.Function;

/**
 * Central-difference gradient checks in float64, shared by the kernels' tests: perturbs each input element by ±eps
 * and compares (f(x+eps) − f(x−eps)) / 2eps of a random projection of the output with the autograd gradient
 * (eps 1e-6, atol 1e-5, rtol 1e-3). Null and integer inputs are skipped; entries equal to −∞ stay −∞ when
 * perturbed, so both sides are 0 there.
 */
public final class GradCheck {
    private GradCheck() {}

    static final double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3;

    /** Checks d f / d inputs[i] for every non-null floating input; those must be F64 leaves. */
    public static void check(String name, Function<Tensor[], Tensor> f, Tensor... inputs) {
        for (Tensor t : inputs) if (t != null && t.dtype().isFloating()) t.requiresGrad(true);
        Tensor out = f.apply(inputs);
        Tensor proj = Tensor.randn(new Generator(99), out.shape()).to(DType.F64);
        out.mul(proj).sum().backward();
        for (int k = 0; k < inputs.length; k++) {
            Tensor x = inputs[k];
            if (x == null || !x.dtype().isFloating()) continue;
            double[] analytic = x.grad() == null ? new double[(int) x.numel()] : x.grad().toDoubleArray();
            int n = (int) x.numel();
            for (int i = 0; i < n; i++) {
                double numeric = (perturbed(f, inputs, proj, k, i, EPS) - perturbed(f, inputs, proj, k, i, -EPS)) / (2 * EPS);
                double a = analytic[i];
                assertTrue(Math.abs(a - numeric) <= ATOL + RTOL * Math.abs(numeric),
                        name + ": d/d input" + k + "[" + i + "] analytic " + a + " vs numeric " + numeric);
            }
        }
    }

    private static double perturbed(Function<Tensor[], Tensor> f, Tensor[] inputs, Tensor proj, int k, int i, double delta) {
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor x = inputs[k].contiguous();
            double[] v = x.toDoubleArray();
            v[i] += delta;
            Tensor[] args = inputs.clone();
            args[k] = Tensor.of(v, x.shape());
            return f.apply(args).mul(proj).sum().item();
        }
    }
}
