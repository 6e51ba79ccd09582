package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.randn64;
import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link Functional#causalConv1d(Tensor, Tensor, Tensor, int[])} over packed sequences: the packed result and every
 * gradient equal running each document on its own; finite differences agree; malformed cuSeqlens are refused.
 */
class PackedConv1dTest {
    private final Generator g = new Generator(77);

    @Test
    void packedEqualsSeparateDocuments() {
        // K = 4 is longer than two of the documents, and one document is empty: the edge cases of a reset.
        int ch = 3, k = 4;
        int[] cu = {0, 3, 4, 4, 9, 11};
        int len = cu[cu.length - 1];
        for (DType dt : new DType[] {DType.F64, DType.F32}) {
            double tol = dt == DType.F32 ? 1e-5 : 1e-12;
            Tensor x = Tensor.randn(g, 1, len, ch).to(dt).requiresGrad(true);
            Tensor w = Tensor.randn(g, ch, k).to(dt).requiresGrad(true);
            Tensor b = Tensor.randn(g, ch).to(dt).requiresGrad(true);
            Tensor proj = Tensor.randn(g, 1, len, ch).to(dt);
            Tensor y = Functional.causalConv1d(x, w, b, cu);
            y.mul(proj).sum().backward();

            double[] dwSum = new double[ch * k], dbSum = new double[ch];
            for (int d = 0; d + 1 < cu.length; d++) {
                int start = cu[d], n = cu[d + 1] - cu[d];
                if (n == 0) continue;
                Tensor xd = x.detach().narrow(1, start, n).clone().requiresGrad(true);
                Tensor wd = w.detach().clone().requiresGrad(true), bd = b.detach().clone().requiresGrad(true);
                Tensor yd = Functional.causalConv1d(xd, wd, bd);
                yd.mul(proj.narrow(1, start, n)).sum().backward();
                values(y.detach().narrow(1, start, n), yd.toDoubleArray(), tol);
                values(x.grad().narrow(1, start, n), xd.grad().toDoubleArray(), tol);
                add(dwSum, wd.grad().toDoubleArray());
                add(dbSum, bd.grad().toDoubleArray());
            }
            values(w.grad(), dwSum, tol);
            values(b.grad(), dbSum, tol);
        }
    }

    @Test
    void packingChangesTheResultOnlyAfterAStart() {
        // y[t] = x[t-1] + x[t]; the document starting at 2 must not see x[1]
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4}, 1, 4, 1);
        Tensor w = Tensor.ones(DType.F64, 1, 2);
        values(Functional.causalConv1d(x, w, null, new int[] {0, 2, 4}), new double[] {1, 3, 3, 7}, 0);
        values(Functional.causalConv1d(x, w, null, new int[] {0, 4}), Functional.causalConv1d(x, w, null).toDoubleArray(), 0);
        values(Functional.causalConv1d(x, w, null, null), new double[] {1, 3, 5, 7}, 0);
    }

    @Test
    void gradientCheckWithPacking() {
        int[] cu = {0, 2, 3, 7};
        GradCheck.check("packed conv bias", t -> Functional.causalConv1d(t[0], t[1], t[2], cu),
                randn64(g, 1, 7, 2), randn64(g, 2, 3), randn64(g, 2));
        GradCheck.check("packed conv transposed x, no bias", t -> Functional.causalConv1d(t[0].transpose(1, 2), t[1], null, cu),
                randn64(g, 1, 2, 7), randn64(g, 2, 4));
    }

    @Test
    void malformedCuSeqlensAreRefused() {
        Tensor x = Tensor.zeros(1, 5, 2), w = Tensor.zeros(2, 3);
        refused(() -> Functional.causalConv1d(x, w, null, new int[] {1, 5}), "start at 0");
        refused(() -> Functional.causalConv1d(x, w, null, new int[] {0, 4}), "end at L = 5");
        refused(() -> Functional.causalConv1d(x, w, null, new int[] {0, 6}), "end at L = 5");
        refused(() -> Functional.causalConv1d(x, w, null, new int[] {0, 3, 2, 5}), "must not decrease");
        refused(() -> Functional.causalConv1d(x, w, null, new int[] {0}), "at least");
        refused(() -> Functional.causalConv1d(x, w, null, new int[0]), "at least");
        refused(() -> Functional.causalConv1d(Tensor.zeros(2, 5, 2), w, null, new int[] {0, 5}), "batch 1");
    }

    private static void refused(org.junit.jupiter.api.function.Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains("causal_conv1d") && e.getMessage().contains(fragment), e.getMessage());
    }

    private static void add(double[] acc, double[] v) {
        for (int i = 0; i < acc.length; i++) acc[i] += v[i];
    }
}
