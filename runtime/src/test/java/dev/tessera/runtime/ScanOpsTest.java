package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** cumsum and cumprod along any dimension, including non-contiguous inputs, zeros and integer inputs. */
class ScanOpsTest {
    @Test
    void cumsum() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        values(x.cumsum(1), new int[] {2, 3}, new double[] {1, 3, 6, 4, 9, 15}, 0);
        values(x.cumsum(-1), new double[] {1, 3, 6, 4, 9, 15}, 0);
        values(x.cumsum(0), new int[] {2, 3}, new double[] {1, 2, 3, 5, 7, 9}, 0);
        // transposed: [[1,4],[2,5],[3,6]] along dim 0
        values(x.t().cumsum(0), new int[] {3, 2}, new double[] {1, 4, 3, 9, 6, 15}, 0);
        // sliced with step: columns 0 and 2
        values(x.slice(1, 0, 3, 2).cumsum(1), new double[] {1, 4, 4, 10}, 0);
        // 3-D middle dim
        Tensor c = Tensor.of(Expect.ramp(12, 1, 1), 2, 3, 2); // 1..12
        values(c.cumsum(1), new int[] {2, 3, 2}, new double[] {1, 2, 4, 6, 9, 12, 7, 8, 16, 18, 27, 30}, 0);
        // integers accumulate exactly as I64
        Tensor i = Tensor.of(new int[] {2_000_000_000, 2_000_000_000, 1}, 3);
        Tensor ci = i.cumsum(0);
        assertEquals(DType.I64, ci.dtype());
        assertArrayEquals(new long[] {2_000_000_000L, 4_000_000_000L, 4_000_000_001L}, ci.toLongArray());
        // 0-d is the identity
        assertEquals(5, Tensor.scalar(5).cumsum(0).item(), 0);
        // gradient: d/dx_i Σ_j w_j y_j = Σ_{j≥i} w_j
        Tensor v = Tensor.of(new double[] {1, 2, 3, 4}, 4).requiresGrad(true);
        v.cumsum(0).mul(Tensor.of(new double[] {1, 10, 100, 1000}, 4)).sum().backward();
        values(v.grad(), new double[] {1111, 1110, 1100, 1000}, 0);
    }

    @Test
    void cumprod() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 0.5, -1, 2, 0, 5}, 3, 3);
        values(x.cumprod(1), new int[] {3, 3}, new double[] {1, 2, 6, 4, 2, -2, 2, 0, 0}, 0);
        values(x.cumprod(0), new int[] {3, 3}, new double[] {1, 2, 3, 4, 1, -3, 8, 0, -15}, 0);
        values(x.t().cumprod(1), new int[] {3, 3}, new double[] {1, 4, 8, 2, 1, 0, 3, -3, -15}, 0);
        Tensor i = Tensor.of(new long[] {3, -2, 5}, 3);
        assertArrayEquals(new long[] {3, -6, -30}, i.cumprod(0).toLongArray());
        // long F32 row: 1.01^k
        int n = 50;
        float[] f = new float[n];
        java.util.Arrays.fill(f, 1.01f);
        double[] want = new double[n];
        double p = 1;
        for (int k = 0; k < n; k++) want[k] = p *= 1.01f;
        values(Tensor.of(f, n).cumprod(0), want, 1e-5);
    }

    @Test
    void cumprodGradientWithZeros() {
        // y = cumprod(x), L = Σ w_j y_j; dL/dx_i = Σ_{j≥i} w_j Π_{k≤j, k≠i} x_k
        double[] xv = {2, 0, 3, 0.5};
        double[] w = {1, 10, 100, 1000};
        Tensor x = Tensor.of(xv, 4).requiresGrad(true);
        x.cumprod(0).mul(Tensor.of(w, 4)).sum().backward();
        double[] want = new double[4];
        for (int i = 0; i < 4; i++) {
            for (int j = i; j < 4; j++) {
                double prod = 1;
                for (int k = 0; k <= j; k++) if (k != i) prod *= xv[k];
                want[i] += w[j] * prod;
            }
        }
        // by hand: x0: 1 + 10·0 + ... = 1; x1: 10·2 + 100·2·3 + 1000·2·3·0.5 = 3620; x2, x3: 0 (after the zero)
        assertArrayEquals(new double[] {1, 3620, 0, 0}, want, 0);
        values(x.grad(), want, 1e-12);
    }
}
