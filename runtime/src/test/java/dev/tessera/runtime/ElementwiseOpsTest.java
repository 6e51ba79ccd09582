package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.map;
import static dev.tessera.runtime.Expect.ramp;
import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Forward values of the elementwise ops: arithmetic, activations, comparisons, where, clamp, broadcasting. */
class ElementwiseOpsTest {
    private static final double F32_TOL = 2e-6, F64_TOL = 1e-12;

    // ------------------------------------------------------------ binary arithmetic

    @Test
    void arithmeticSameShape() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[] {6, 5, 4, -3, -2, -1}, 2, 3);
        values(a.add(b), new int[] {2, 3}, new double[] {7, 7, 7, 1, 3, 5}, 0);
        values(a.sub(b), new int[] {2, 3}, new double[] {-5, -3, -1, 7, 7, 7}, 0);
        values(a.mul(b), new int[] {2, 3}, new double[] {6, 10, 12, -12, -10, -6}, 0);
        values(a.div(b), new int[] {2, 3}, new double[] {1 / 6.0, 0.4, 0.75, -4 / 3.0, -2.5, -6}, F32_TOL);
        values(a.neg(), new double[] {-1, -2, -3, -4, -5, -6}, 0);
    }

    @Test
    void arithmeticLongRowsTakeSimdAndTailPaths() {
        // 37 elements: two 16-wide vectors and a 5-element tail
        int n = 37;
        double[] x = ramp(n, 0.5, -7), y = ramp(n, -0.25, 3);
        Tensor a = Tensor.of(Expect.toFloat(x), n), b = Tensor.of(Expect.toFloat(y), n);
        double[] sum = new double[n], diff = new double[n], prod = new double[n], quot = new double[n], mx = new double[n], mn = new double[n];
        for (int i = 0; i < n; i++) {
            sum[i] = x[i] + y[i];
            diff[i] = x[i] - y[i];
            prod[i] = x[i] * y[i];
            quot[i] = x[i] / y[i];
            mx[i] = Math.max(x[i], y[i]);
            mn[i] = Math.min(x[i], y[i]);
        }
        values(a.add(b), sum, F32_TOL);
        values(a.sub(b), diff, F32_TOL);
        values(a.mul(b), prod, F32_TOL);
        values(a.div(b), quot, F32_TOL);
        values(a.maximum(b), mx, 0);
        values(a.minimum(b), mn, 0);
        // scalar tensor on either side
        Tensor c = Tensor.scalar(2);
        values(a.mul(c), map(x, v -> 2 * v), F32_TOL);
        values(c.sub(a), map(x, v -> 2 - v), F32_TOL);
        values(c.div(a), map(x, v -> 2 / v), F32_TOL);
        values(a.maximum(c), map(x, v -> Math.max(v, 2)), 0);
    }

    @Test
    void scalarOperands() {
        Tensor a = Tensor.of(new double[] {1, -2, 3.5}, 3);
        values(a.add(1.5), new double[] {2.5, -0.5, 5}, F64_TOL);
        values(a.sub(1.5), new double[] {-0.5, -3.5, 2}, F64_TOL);
        values(a.mul(-2), new double[] {-2, 4, -7}, F64_TOL);
        values(a.div(4), new double[] {0.25, -0.5, 0.875}, F64_TOL);
        values(a.div(3), new double[] {1 / 3.0, -2 / 3.0, 3.5 / 3}, F64_TOL);
        assertEquals(DType.F64, a.add(1).dtype());
    }

    @Test
    void broadcasting() {
        Tensor m = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor row = Tensor.of(new float[] {10, 20, 30}, 3);
        Tensor col = Tensor.of(new float[] {100, 200}, 2, 1);
        values(m.add(row), new int[] {2, 3}, new double[] {11, 22, 33, 14, 25, 36}, 0);
        values(m.add(col), new int[] {2, 3}, new double[] {101, 102, 103, 204, 205, 206}, 0);
        values(row.sub(col), new int[] {2, 3}, new double[] {-90, -80, -70, -190, -180, -170}, 0);
        values(col.mul(row), new int[] {2, 3}, new double[] {1000, 2000, 3000, 2000, 4000, 6000}, 0);
        // [2,1,3] with [4,1] -> [2,4,3]
        Tensor a = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 1, 3);
        Tensor b = Tensor.of(new double[] {0, 10, 20, 30}, 4, 1);
        Tensor s = a.add(b);
        Expect.shape(s, 2, 4, 3);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 4; j++) for (int k = 0; k < 3; k++) {
            assertEquals((i * 3 + k + 1) + 10 * j, s.get(i, j, k), 0);
        }
        // 0-d with n-d
        values(Tensor.scalar(3, DType.F64).mul(a), new int[] {2, 1, 3}, new double[] {3, 6, 9, 12, 15, 18}, 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.add(Tensor.zeros(2)));
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[2]"), e.getMessage());
    }

    @Test
    void nonContiguousOperands() {
        // base [[0,1,2,3],[4,5,6,7],[8,9,10,11]]
        Tensor base = Tensor.of(Expect.toFloat(ramp(12, 1, 0)), 3, 4);
        Tensor tr = base.t(); // [4,3]: tr[i][j] = 4j + i
        Tensor other = Tensor.of(Expect.toFloat(ramp(12, 1, 100)), 4, 3); // contiguous
        double[] exp = new double[12];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) exp[i * 3 + j] = (4 * j + i) + (100 + i * 3 + j);
        values(tr.add(other), new int[] {4, 3}, exp, 0);
        // sliced with step: columns 0 and 2 of each row -> [[0,2],[4,6],[8,10]]
        Tensor sl = base.slice(1, 0, 4, 2);
        values(sl.mul(Tensor.of(new float[] {1, -1}, 2)), new int[] {3, 2}, new double[] {0, -2, 4, -6, 8, -10}, 0);
        // expanded: [1,4] row expanded to [3,4], times the transposed-back view
        Tensor r = Tensor.of(new float[] {1, 2, 3, 4}, 1, 4).expand(3, 4);
        values(r.mul(tr.t()), new int[] {3, 4}, new double[] {0, 2, 6, 12, 4, 10, 18, 28, 8, 18, 30, 44}, 0);
        // narrowed rows
        values(base.narrow(0, 1, 2).sub(base.narrow(0, 0, 2)), new int[] {2, 4}, new double[] {4, 4, 4, 4, 4, 4, 4, 4}, 0);
        // unary on a transposed F32 view
        values(tr.neg(), new int[] {4, 3}, new double[] {-0, -4, -8, -1, -5, -9, -2, -6, -10, -3, -7, -11}, 0);
    }

    @Test
    void pow() {
        Tensor b = Tensor.of(new double[] {2, 3, 0.5, 4}, 4);
        Tensor e = Tensor.of(new double[] {3, -1, 2, 0.5}, 4);
        values(b.pow(e), new double[] {8, 1 / 3.0, 0.25, 2}, F64_TOL);
        values(b.pow(2), new double[] {4, 9, 0.25, 16}, F64_TOL);
        values(b.pow(-0.5), new double[] {1 / Math.sqrt(2), 1 / Math.sqrt(3), Math.sqrt(2), 0.5}, F64_TOL);
        // broadcast: [2,1] bases against [3] exponents
        Tensor bb = Tensor.of(new float[] {2, 3}, 2, 1);
        Tensor ee = Tensor.of(new float[] {0, 1, 2}, 3);
        values(bb.pow(ee), new int[] {2, 3}, new double[] {1, 2, 4, 1, 3, 9}, F32_TOL);
        // integer tensors promote to F32 for pow
        Tensor ib = Tensor.of(new int[] {2, 3}, 2);
        assertEquals(DType.F32, ib.pow(Tensor.of(new int[] {2, 2}, 2)).dtype());
        values(ib.pow(2), new double[] {4, 9}, 0);
        // transposed base and exponent: [[1,3],[2,4]]^[[2,1],[0,3]]
        Tensor tb = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2).t();
        Tensor te = Tensor.of(new double[] {2, 0, 1, 3}, 2, 2).t();
        values(tb.pow(te), new int[] {2, 2}, new double[] {1, 3, 1, 64}, 0);
        values(tb.pow(3), new double[] {1, 27, 8, 64}, 1e-12);
        // x^0 is 1, also for 0
        values(Tensor.of(new double[] {0, -2, 5}, 3).pow(0), new double[] {1, 1, 1}, 0);
    }

    // ------------------------------------------------------------ unary

    private static void checkUnary(Function<Tensor, Tensor> op, DoubleUnaryOperator ref, double[] x, double f32Tol) {
        int n = x.length;
        // F64, scalar path
        values(op.apply(Tensor.of(x, n)), map(x, ref), F64_TOL * 100);
        // F32 contiguous (SIMD body and scalar tail); expectations from the F32-rounded inputs
        float[] xf = Expect.toFloat(x);
        double[] xr = new double[n];
        for (int i = 0; i < n; i++) xr[i] = xf[i];
        values(op.apply(Tensor.of(xf, n)), map(xr, ref), f32Tol);
        // F32 non-contiguous: every other element of a [n, 2] buffer, through a transposed view
        float[] wide = new float[2 * n];
        for (int i = 0; i < n; i++) { wide[2 * i] = xf[i]; wide[2 * i + 1] = 1e9f; }
        Tensor strided = Tensor.of(wide, n, 2).t().select(0, 0);
        assertTrue(!strided.isContiguous());
        values(op.apply(strided), map(xr, ref), f32Tol);
    }

    private static double[] spread(int n, double lo, double hi) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * i / (n - 1);
        return v;
    }

    @Test
    void smoothUnaryOps() {
        double[] x = spread(37, -6, 6);
        double[] pos = spread(37, 0.01, 50);
        checkUnary(Tensor::exp, Math::exp, x, 1e-5);
        checkUnary(Tensor::log, Math::log, pos, 1e-5);
        checkUnary(Tensor::log1p, Math::log1p, spread(37, -0.99, 10), 1e-5);
        checkUnary(Tensor::sqrt, Math::sqrt, pos, 1e-6);
        checkUnary(Tensor::rsqrt, v -> 1 / Math.sqrt(v), pos, 1e-6);
        checkUnary(Tensor::tanh, Math::tanh, x, 1e-6);
        checkUnary(Tensor::sigmoid, v -> 1 / (1 + Math.exp(-v)), spread(37, -30, 30), 1e-6);
        checkUnary(Tensor::silu, v -> v / (1 + Math.exp(-v)), spread(37, -30, 30), 1e-6);
        checkUnary(Tensor::softplus, v -> Math.log(1 + Math.exp(v)), spread(37, -30, 30), 1e-6);
    }

    @Test
    void exactHandValues() {
        Tensor x = Tensor.of(new double[] {0, 1, -1, 2}, 4);
        values(x.exp(), new double[] {1, Math.E, 1 / Math.E, Math.E * Math.E}, 1e-15);
        values(Tensor.of(new double[] {1, Math.E, 0.25}, 3).log(), new double[] {0, 1, Math.log(0.25)}, 1e-15);
        values(Tensor.of(new double[] {4, 0.25, 9}, 3).sqrt(), new double[] {2, 0.5, 3}, 0);
        values(Tensor.of(new double[] {4, 0.25, 16}, 3).rsqrt(), new double[] {0.5, 2, 0.25}, 1e-15);
        values(x.sigmoid(), new double[] {0.5, 0.7310585786300049, 0.2689414213699951, 0.8807970779778823}, 1e-15);
        values(x.tanh(), new double[] {0, 0.7615941559557649, -0.7615941559557649, 0.9640275800758169}, 1e-15);
        values(x.softplus(), new double[] {Math.log(2), 1.3132616875182228, 0.31326168751822286, 2.1269280110429727}, 1e-15);
        values(x.silu(), new double[] {0, 0.7310585786300049, -0.2689414213699951, 1.7615941559557646}, 1e-15);
        values(Tensor.of(new double[] {0, 1e-10, -0.5}, 3).log1p(), new double[] {0, 1e-10 - 5e-21, Math.log(0.5)}, 1e-15);
        // softplus must not overflow for large inputs
        values(Tensor.of(new float[] {100, -100}, 2).softplus(), new double[] {100, Math.exp(-100)}, 1e-6);
    }

    @Test
    void kinkedUnaryOps() {
        double[] x = spread(37, -4, 4);
        checkUnary(Tensor::abs, Math::abs, x, 0);
        checkUnary(Tensor::relu, v -> v > 0 ? v : 0, x, 0);
        checkUnary(t -> t.clamp(-1.5, 0.75), v -> Math.min(Math.max(v, -1.5), 0.75), x, 0);
        values(Tensor.of(new double[] {-2, -0.5, 0, 0.5, 2}, 5).clamp(-1, 1), new double[] {-1, -0.5, 0, 0.5, 1}, 0);
        values(Tensor.of(new double[] {-2, 0, 3}, 3).relu(), new double[] {0, 0, 3}, 0);
        values(Tensor.of(new double[] {-2, 0, 3}, 3).sign(), new double[] {-1, 0, 1}, 0);
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2).clamp(1, 0));
        // abs and relu keep integer dtypes
        Tensor i = Tensor.of(new long[] {-3, 0, 5}, 3);
        assertEquals(DType.I64, i.abs().dtype());
        assertArrayEquals(new long[] {3, 0, 5}, i.abs().toLongArray());
        assertArrayEquals(new long[] {0, 0, 5}, i.relu().toLongArray());
        assertArrayEquals(new long[] {3, 0, -5}, i.neg().toLongArray());
    }

    @Test
    void geluBothForms() {
        double[] x = spread(37, -7, 7);
        // exact form against the normal CDF from Simpson integration of the density
        checkUnary(Tensor::gelu, v -> v * Expect.normalCdf(v), x, 2e-6);
        // textbook values of x·Φ(x)
        values(Tensor.of(new double[] {-1, 0, 0.5, 1, 2, -3}, 6).gelu(),
                new double[] {-0.15865525393145707, 0, 0.34573123063700656, 0.8413447460685429, 1.9544997361036416, -0.0040496940948902},
                1e-12);
        double c = Math.sqrt(2 / Math.PI);
        checkUnary(Tensor::geluTanh, v -> 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v))), x, 2e-6);
        // gelu_tanh(1) = 0.5 (1 + tanh(0.7978845608 · 1.044715))
        values(Tensor.of(new double[] {1}, 1).geluTanh(), new double[] {0.8411919906082768}, 1e-12);
    }

    @Test
    void integerInputsOfFloatingOpsPromote() {
        Tensor i = Tensor.of(new int[] {0, 1, 4}, 3);
        assertEquals(DType.F32, i.exp().dtype());
        values(i.sqrt(), new double[] {0, 1, 2}, 0);
        assertEquals(DType.F32, i.div(Tensor.of(new int[] {2, 2, 2}, 3)).dtype());
        values(i.div(Tensor.of(new int[] {2, 2, 2}, 3)), new double[] {0, 0.5, 2}, 0);
        assertEquals(DType.I32, i.add(Tensor.of(new int[] {1, 1, 1}, 3)).dtype());
        assertEquals(DType.I64, i.add(Tensor.of(new long[] {1, 1, 1}, 3)).dtype());
        assertEquals(DType.F32, i.add(Tensor.of(new float[] {0.5f, 0.5f, 0.5f}, 3)).dtype());
        values(i.add(Tensor.of(new float[] {0.5f, 0.5f, 0.5f}, 3)), new double[] {0.5, 1.5, 4.5}, 0);
        assertEquals(DType.F64, Tensor.of(new float[] {1}, 1).add(Tensor.of(new double[] {1}, 1)).dtype());
        // large I64 values stay exact in integer arithmetic
        long big = (1L << 53) + 1;
        assertArrayEquals(new long[] {big + 1}, Tensor.of(new long[] {big}, 1).add(Tensor.of(new long[] {1}, 1)).toLongArray());
    }

    // ------------------------------------------------------------ maximum/minimum, comparisons, where

    @Test
    void maximumMinimum() {
        Tensor a = Tensor.of(new double[] {1, 5, -2, 0}, 4);
        Tensor b = Tensor.of(new double[] {3, 2, -2, Double.NaN}, 4);
        values(a.maximum(b), new double[] {3, 5, -2, Double.NaN}, 0);
        values(a.minimum(b), new double[] {1, 2, -2, Double.NaN}, 0);
        Tensor row = Tensor.of(new float[] {0, 2, 4}, 3), col = Tensor.of(new float[] {1, 3}, 2, 1);
        values(row.maximum(col), new int[] {2, 3}, new double[] {1, 2, 4, 3, 3, 4}, 0);
        values(row.minimum(col), new int[] {2, 3}, new double[] {0, 1, 1, 0, 2, 3}, 0);
    }

    @Test
    void comparisons() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[] {3, 2, 1}, 3); // broadcast over rows
        Tensor eq = a.eq(b);
        assertEquals(DType.BOOL, eq.dtype());
        Expect.shape(eq, 2, 3);
        values(eq, new double[] {0, 1, 0, 0, 0, 0}, 0);
        values(a.ne(b), new double[] {1, 0, 1, 1, 1, 1}, 0);
        values(a.lt(b), new double[] {1, 0, 0, 0, 0, 0}, 0);
        values(a.le(b), new double[] {1, 1, 0, 0, 0, 0}, 0);
        values(a.gt(b), new double[] {0, 0, 1, 1, 1, 1}, 0);
        values(a.ge(b), new double[] {0, 1, 1, 1, 1, 1}, 0);
        // transposed left operand and mixed dtypes (I64 against F64)
        Tensor t = Tensor.of(new long[] {1, 4, 2, 5, 3, 6}, 3, 2).t(); // [[1,2,3],[4,5,6]]
        values(t.eq(a.to(DType.F64)), new double[] {1, 1, 1, 1, 1, 1}, 0);
        values(t.gt(Tensor.of(new double[] {2.5}, 1)), new double[] {0, 0, 1, 1, 1, 1}, 0);
        // NaN compares unequal to everything
        Tensor n = Tensor.of(new double[] {Double.NaN}, 1);
        values(n.eq(n), new double[] {0}, 0);
        values(n.ne(n), new double[] {1}, 0);
        values(n.lt(Tensor.of(new double[] {1}, 1)), new double[] {0}, 0);
    }

    @Test
    void whereSelects() {
        Tensor cond = Tensor.of(new boolean[] {true, false, true, false, false, true}, 2, 3);
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor y = Tensor.of(new float[] {-1, -2, -3, -4, -5, -6}, 2, 3);
        values(x.where(cond, y), new int[] {2, 3}, new double[] {1, -2, 3, -4, -5, 6}, 0);
        // broadcast condition, scalar other
        Tensor rowCond = Tensor.of(new boolean[] {false, true, true}, 3);
        values(x.where(rowCond, Tensor.scalar(0)), new int[] {2, 3}, new double[] {0, 2, 3, 0, 5, 6}, 0);
        // column x broadcast against a row y under a full condition
        Tensor colX = Tensor.of(new double[] {10, 20}, 2, 1);
        Tensor rowY = Tensor.of(new double[] {7, 8, 9}, 3);
        values(colX.where(cond, rowY), new int[] {2, 3}, new double[] {10, 8, 10, 7, 8, 20}, 0);
        // transposed condition
        Tensor condT = Tensor.of(new boolean[] {true, false, false, true, true, false}, 3, 2).t(); // [[T,F,T],[F,T,F]]
        values(x.where(condT, y), new double[] {1, -2, 3, -4, 5, -6}, 0);
        assertThrows(IllegalArgumentException.class, () -> x.where(x, y));
    }
}
