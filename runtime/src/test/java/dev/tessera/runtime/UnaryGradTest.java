package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU backend's fused activation gradients (one pass, SIMD for F32) against the derivative written out in double:
 * every row length around the vector width and the parallel split, contiguous and transposed inputs, and an
 * incoming gradient that is a stride-0 broadcast. The float64 finite-difference checks in GradientCheckTest run the
 * same kernel at F64.
 */
class UnaryGradTest {
    private static DoubleUnaryOperator sigma() { return v -> 1 / (1 + Math.exp(-v)); }

    private static UnaryOperator<Tensor> op(String name) {
        return switch (name) {
            case "sigmoid" -> Tensor::sigmoid;
            case "tanh" -> Tensor::tanh;
            case "silu" -> Tensor::silu;
            case "softplus" -> Tensor::softplus;
            default -> throw new IllegalArgumentException(name);
        };
    }

    private static DoubleUnaryOperator derivative(String name) {
        DoubleUnaryOperator s = sigma();
        return switch (name) {
            case "sigmoid" -> v -> s.applyAsDouble(v) * (1 - s.applyAsDouble(v));
            case "tanh" -> v -> 1 - Math.tanh(v) * Math.tanh(v);
            case "silu" -> v -> s.applyAsDouble(v) * (1 + v * (1 - s.applyAsDouble(v)));
            case "softplus" -> s;
            default -> throw new IllegalArgumentException(name);
        };
    }

    @ParameterizedTest(name = "{0} {1} rows {2} x {3}, transposed {4}")
    @CsvSource({
            "silu, F32, 1, 1, false", "silu, F32, 3, 17, false", "silu, F32, 64, 33, true", "silu, F32, 300, 257, false",
            "silu, F64, 5, 31, true", "sigmoid, F32, 9, 47, false", "sigmoid, F32, 40, 40, true", "sigmoid, F64, 3, 8, false",
            "tanh, F32, 7, 65, false", "tanh, F32, 16, 16, true", "tanh, F64, 2, 9, false",
            "softplus, F32, 11, 129, false", "softplus, F32, 8, 24, true", "softplus, F64, 4, 4, false"})
    void fusedGradientMatchesTheDerivative(String name, String dtype, int rows, int cols, boolean transposed) {
        DType t = DType.valueOf(dtype);
        Generator gen = new Generator(rows * 31L + cols);
        try (Scope s = Scope.open()) {
            Tensor base = Tensor.randn(gen, transposed ? cols : rows, transposed ? rows : cols).mul(4).to(t);
            Tensor leaf = base.detach().requiresGrad(true);
            Tensor x = transposed ? leaf.transpose(0, 1) : leaf;
            Tensor w = Tensor.randn(gen, rows, cols).to(t);
            op(name).apply(x).mul(w).sum().backward();
            assertNotNull(leaf.grad());
            double[] xs = x.contiguous().to(DType.F64).toDoubleArray(), ws = w.to(DType.F64).toDoubleArray();
            double[] got = (transposed ? leaf.grad().transpose(0, 1) : leaf.grad()).contiguous().to(DType.F64).toDoubleArray();
            DoubleUnaryOperator d = derivative(name);
            double tol = t == DType.F64 ? 1e-13 : 2e-6;
            for (int i = 0; i < xs.length; i++) {
                double want = ws[i] * d.applyAsDouble(xs[i]);
                assertEquals(want, got[i], tol * (1 + Math.abs(want)), name + " at " + i + ", x = " + xs[i]);
            }
        }
    }

    @ParameterizedTest(name = "{0}: the incoming gradient is a broadcast")
    @CsvSource({"silu", "sigmoid", "tanh", "softplus"})
    void broadcastIncomingGradient(String name) {
        Generator gen = new Generator(5);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(gen, 70_000).mul(3).detach().requiresGrad(true); // above the parallel grain
            op(name).apply(x).sum().backward();
            double[] xs = x.to(DType.F64).toDoubleArray(), got = x.grad().to(DType.F64).toDoubleArray();
            DoubleUnaryOperator d = derivative(name);
            for (int i = 0; i < xs.length; i++) assertEquals(d.applyAsDouble(xs[i]), got[i], 2e-6, name + " at " + i);
        }
    }
}
