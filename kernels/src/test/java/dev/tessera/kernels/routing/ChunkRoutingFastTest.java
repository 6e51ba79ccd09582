package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The fast F32 kernels against the F64 reference: forward values and gradients of a whole stage. */
class ChunkRoutingFastTest {
    private static final double TOL = 2e-4;

    /** D below, at and off the vector width, so both the vector loop and the scalar tail run. */
    @ParameterizedTest
    @ValueSource(ints = {3, 16, 37, 64})
    void plainRows(int d) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(d);
            Tensor q = Tensor.randn(g, 3, 29, d), k = Tensor.randn(g, 3, 29, d), x = Tensor.randn(g, 3, 29, d);
            Pipeline.run(q, k, x, null, null, DType.F64, 5).assertMatches(Pipeline.run(q, k, x, null, null, DType.F32, 5), TOL);
        }
    }

    /** Uneven lengths (right and left padding): uneven chunk counts across the batch. */
    @ParameterizedTest
    @ValueSource(ints = {5, 33})
    void maskedRows(int d) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(100 + d);
            int len = 23;
            Tensor q = Tensor.randn(g, 3, len, d), k = Tensor.randn(g, 3, len, d), x = Tensor.randn(g, 3, len, d);
            boolean[] m = new boolean[3 * len];
            for (int t = 0; t < len; t++) {
                m[t] = true;
                m[len + t] = t < 9;
                m[2 * len + t] = t >= 4;
            }
            Tensor mask = Tensor.of(m, 3, len);
            Pipeline.run(q, k, x, mask, null, DType.F64, 6).assertMatches(Pipeline.run(q, k, x, mask, null, DType.F32, 6), TOL);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 40})
    void packed(int d) {
        try (Scope s = Scope.open()) {
            Generator g = new Generator(200 + d);
            Tensor q = Tensor.randn(g, 1, 31, d), k = Tensor.randn(g, 1, 31, d), x = Tensor.randn(g, 1, 31, d);
            Tensor cu = Tensor.of(new long[] {0, 1, 12, 12, 25, 31}, 6);
            Pipeline.run(q, k, x, null, cu, DType.F64, 7).assertMatches(Pipeline.run(q, k, x, null, cu, DType.F32, 7), TOL);
        }
    }
}
