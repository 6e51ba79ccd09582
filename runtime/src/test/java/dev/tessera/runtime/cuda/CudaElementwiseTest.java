package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.Map;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Profiler;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA elementwise kernels against the CPU: every op is run on the same inputs on both devices through the
 * public Tensor API and compared elementwise (exact where the GPU computes exactly what the CPU does: arithmetic,
 * comparisons, casts, integer ops; within a few ulps of the dtype for transcendental functions).
 */
@Tag("gpu")
class CudaElementwiseTest {
    private static final Device CUDA = Device.cuda(0), CPU = Device.cpu();
    private static final DType[] ALL = DType.values();
    /** (rtol, atol) per dtype for transcendental functions computed in float (F32/BF16/F16) or double (F64). */
    private static final double F32_R = 2e-6, F32_A = 1e-6, BF16_R = 1e-2, BF16_A = 1e-3, F16_R = 2e-3, F16_A = 1e-4, F64_R = 1e-12, F64_A = 1e-14;

    private record Op1(String name, UnaryOperator<Tensor> f, boolean positive, boolean exact) {}

    /** Every UnaryOp reachable from a Tensor method (NONFINITE: see anomalyModeRunsNonfiniteOnTheGpu). */
    private static final List<Op1> UNARY = List.of(
            new Op1("neg", Tensor::neg, false, true),
            new Op1("exp", Tensor::exp, false, false),
            new Op1("log", Tensor::log, true, false),
            new Op1("log1p", Tensor::log1p, true, false),
            new Op1("sqrt", Tensor::sqrt, true, true),
            new Op1("rsqrt", Tensor::rsqrt, true, false),
            new Op1("abs", Tensor::abs, false, true),
            new Op1("tanh", Tensor::tanh, false, false),
            new Op1("sigmoid", Tensor::sigmoid, false, false),
            new Op1("relu", Tensor::relu, false, true),
            new Op1("gelu", Tensor::gelu, false, false),
            new Op1("geluTanh", Tensor::geluTanh, false, false),
            new Op1("silu", Tensor::silu, false, false),
            new Op1("softplus", t -> t.mul(8).softplus(), false, false), // reaches past the threshold 20
            new Op1("sign", Tensor::sign, false, true),
            new Op1("pow(3)", t -> t.pow(3), false, false),
            new Op1("pow(0.5)", t -> t.pow(0.5), true, false),
            new Op1("pow(-1.5)", t -> t.pow(-1.5), true, false),
            new Op1("clamp", t -> t.clamp(-0.5, 0.75), false, true),
            // AFFINE: the GPU computes a·x + b in double like UnaryOp.apply, while the CPU's F32 SIMD rows use a float fma:
            // they can differ by an ulp, so these compare with a tolerance.
            new Op1("mul(scalar)", t -> t.mul(0.3), false, false),
            new Op1("add(scalar)", t -> t.add(-1.7), false, false),
            new Op1("div(scalar)", t -> t.div(3), false, false),
            new Op1("sub(scalar)", t -> t.sub(2.25), false, false));

    private record Op2(String name, BinaryOperator<Tensor> f) {}

    private static final List<Op2> ARITH = List.of(
            new Op2("add", Tensor::add), new Op2("sub", Tensor::sub), new Op2("mul", Tensor::mul), new Op2("div", Tensor::div),
            new Op2("maximum", Tensor::maximum), new Op2("minimum", Tensor::minimum));
    private static final List<Op2> CMP = List.of(
            new Op2("eq", Tensor::eq), new Op2("ne", Tensor::ne), new Op2("lt", Tensor::lt), new Op2("le", Tensor::le),
            new Op2("gt", Tensor::gt), new Op2("ge", Tensor::ge));

    // ------------------------------------------------------------------------------------------------ unary

    @Test
    void unaryOpsMatchTheCpuInEveryFloatDtype() {
        Gpu.assumeAvailable();
        Generator g = new Generator(11);
        Tensor base = Tensor.randn(g, 7, 149).mul(2); // 1043 elements: vectors plus a partial one
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            for (Op1 op : UNARY) {
                Tensor x = (op.positive ? base.abs().add(0.05) : base).to(t);
                checkUnary(op.name + " " + t, op, x, op.exact);
            }
        }
    }

    @Test
    void unaryOpsOnStridedMisalignedAndBroadcastViews() {
        Gpu.assumeAvailable();
        Generator g = new Generator(12);
        Tensor base = Tensor.randn(g, 9, 13);
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
            Tensor b = base.to(t);
            for (Op1 op : UNARY) {
                Tensor src = op.positive ? b.abs().add(0.05) : b;
                checkUnary(op.name + " transposed " + t, op, src.transpose(0, 1), op.exact);
                checkUnary(op.name + " narrowed cols " + t, op, src.narrow(1, 1, 11), op.exact);
                checkUnary(op.name + " misaligned rows " + t, op, src.narrow(0, 1, 7), op.exact); // offset 13 elements
                checkUnary(op.name + " expanded " + t, op, src.narrow(0, 2, 1).expand(5, 13), op.exact);
            }
        }
    }

    /**
     * The fused gradients of sigmoid, tanh, SiLU and softplus (one kernel, {@code unary_backward}) against the CPU's
     * (fused in F32 and F64, composed in BF16), on contiguous and transposed inputs, with a weighted and with a
     * broadcast (stride 0) incoming gradient, over values past softplus's threshold of 20.
     */
    @Test
    void activationGradientsAreFusedAndMatchTheCpu() {
        Gpu.assumeAvailable();
        Tensor base = Tensor.randn(new Generator(14), 37, 29).mul(8);
        Tensor weight = Tensor.randn(new Generator(15), 29, 37);
        Map<String, UnaryOperator<Tensor>> ops = Map.of("SIGMOID", Tensor::sigmoid, "TANH", Tensor::tanh, "SILU", Tensor::silu,
                "SOFTPLUS", Tensor::softplus);
        for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            double tol = t == DType.F64 ? 1e-12 : t == DType.F32 ? 1e-5 : 3e-2;
            for (var op : ops.entrySet()) {
                for (boolean weighted : new boolean[] {true, false}) {
                    String what = op.getKey() + " " + t + (weighted ? " weighted" : " broadcast");
                    Tensor xc = base.to(t).detach().requiresGrad(true), xg = base.to(t).to(CUDA).detach().requiresGrad(true);
                    Tensor yc = op.getValue().apply(xc.transpose(0, 1)), yg = op.getValue().apply(xg.transpose(0, 1));
                    (weighted ? yc.mul(weight.to(t)) : yc).sum().backward();
                    Profiler.reset();
                    Profiler.enable();
                    try {
                        (weighted ? yg.mul(weight.to(t).to(CUDA)) : yg).sum().backward();
                    } finally {
                        Profiler.disable();
                    }
                    assertEquals(1, Profiler.snapshot().get("unary_backward." + op.getKey()).calls(), what + ": one fused kernel");
                    CudaExpect.close(what, xc.grad(), xg.grad(), tol);
                }
            }
        }
        Profiler.reset();
    }

    @Test
    void unaryOpsOnLargeTensorsUseTheWholeGrid() {
        Gpu.assumeAvailable();
        Tensor x = Tensor.randn(new Generator(13), (1 << 21) + 5);
        checkUnary("exp large", UNARY.get(1), x, false);
        checkUnary("gelu large bf16", UNARY.get(10), x.to(DType.BF16), false);
        checkUnary("relu large f64", UNARY.get(9), x.to(DType.F64), true);
    }

    @Test
    void unaryOpsOnSpecialValues() {
        Gpu.assumeAvailable();
        double[] v = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, 1.0, -1.0, 25, -25, 19.9, 20.1,
                1e-30, -1e-30, 3e38, 88.8, -104, 0.5};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            Tensor x = Tensor.of(v, v.length).to(t);
            for (Op1 op : UNARY) {
                if (op.name.equals("softplus")) checkUnary("softplus special " + t, new Op1("softplus", Tensor::softplus, false, false), x, false);
                else checkUnary(op.name + " special " + t, op, x, op.exact);
            }
        }
    }

    @Test
    void unaryOpsOnIntegerDtypes() {
        Gpu.assumeAvailable();
        Tensor i64 = Tensor.of(new long[] {0, 1, -1, 7, -7, 1L << 40, -(1L << 40), 123456789012L, Long.MAX_VALUE / 3}, 9);
        Tensor i32 = Tensor.of(new int[] {0, 1, -1, 7, -7, 1 << 30, -(1 << 30), 123456789, Integer.MIN_VALUE + 1}, 9);
        Tensor u8 = Tensor.ofBytes(new byte[] {0, 1, 2, 100, (byte) 200, (byte) 255}, 6);
        Tensor bool = Tensor.of(new boolean[] {true, false, true, true}, 4);
        for (Tensor x : new Tensor[] {i64, i32, u8, bool}) {
            String d = " " + x.dtype();
            same("abs" + d, x.abs(), x.to(CUDA).abs(), 0, 0);
            same("sign" + d, x.sign(), x.to(CUDA).sign(), 0, 0);
            same("relu" + d, x.relu(), x.to(CUDA).relu(), 0, 0);
            same("mul(3)" + d, x.mul(3), x.to(CUDA).mul(3), 0, 0);
            same("add(-2)" + d, x.add(-2), x.to(CUDA).add(-2), 0, 0);
            same("mul(0.5)" + d, x.mul(0.5), x.to(CUDA).mul(0.5), 0, 0);
            same("clamp" + d, x.clamp(-5, 150), x.to(CUDA).clamp(-5, 150), 0, 0);
            same("exp" + d, x.exp(), x.to(CUDA).exp(), F32_R, F32_A);
            same("sqrt" + d, x.abs().sqrt(), x.to(CUDA).abs().sqrt(), 0, 0);
            if (x.dtype() != DType.BOOL) same("neg" + d, x.neg(), x.to(CUDA).neg(), 0, 0);
        }
    }

    // ------------------------------------------------------------------------------------------------ binary

    @Test
    void binaryOpsMatchTheCpuInEveryFloatDtype() {
        Gpu.assumeAvailable();
        Generator g = new Generator(21);
        Tensor a = Tensor.randn(g, 6, 173), b = Tensor.randn(g, 6, 173);
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F16, DType.F64}) {
            Tensor x = a.to(t), y = b.to(t);
            for (Op2 op : ARITH) checkBinary(op.name + " " + t, op, x, y, 0, 0);
            for (Op2 op : CMP) checkBinary(op.name + " " + t, op, x, y.where(y.gt(x.mul(0)), x), 0, 0); // with ties
            double[] tol = tolerance(t);
            checkBinary("pow " + t, new Op2("pow", Tensor::pow), x.abs().add(0.1), y, tol[0], tol[1]);
        }
    }

    @Test
    void binaryOpsBroadcastAndStridedViews() {
        Gpu.assumeAvailable();
        Generator g = new Generator(22);
        Tensor m = Tensor.randn(g, 8, 36), m2 = Tensor.randn(g, 8, 36), row = Tensor.randn(g, 36), col = Tensor.randn(g, 8, 1), s = Tensor.scalar(0.75);
        Tensor wide = Tensor.randn(g, 9, 37);
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64}) {
            Tensor mt = m.to(t), m2t = m2.to(t), rt = row.to(t), ct = col.to(t), st = s.to(t), wt = wide.to(t);
            for (Op2 op : concat(ARITH, CMP)) {
                String n = op.name + " " + t;
                checkBinary(n + " [8,36]·[36]", op, mt, rt, 0, 0);
                checkBinary(n + " [36]·[8,36]", op, rt, mt, 0, 0);
                checkBinary(n + " [8,1]·[36]", op, ct, rt, 0, 0);
                checkBinary(n + " scalar right", op, mt, st, 0, 0);
                checkBinary(n + " scalar left", op, st, mt, 0, 0);
                checkBinary(n + " transposed", op, mt.transpose(0, 1), m2t.transpose(0, 1), 0, 0);
                checkBinary(n + " misaligned", op, wt.narrow(0, 1, 7), wt.narrow(0, 2, 7), 0, 0);
                checkBinary(n + " column slices", op, wt.narrow(1, 3, 30), wt.narrow(1, 0, 30), 0, 0);
            }
        }
    }

    @Test
    void binaryOpsOnMixedDtypesPromoteAsOnTheCpu() {
        Gpu.assumeAvailable();
        Generator g = new Generator(23);
        Tensor a = Tensor.randn(g, 5, 11).mul(4), b = Tensor.randn(g, 5, 11).mul(4);
        DType[] types = {DType.F32, DType.F64, DType.BF16, DType.F16, DType.I32, DType.I64, DType.U8, DType.BOOL};
        for (DType ta : types) {
            for (DType tb : types) {
                Tensor x = a.to(ta), y = b.abs().add(1).to(tb); // y nonzero for div
                for (Op2 op : concat(ARITH, CMP)) checkBinary(op.name + " " + ta + "·" + tb, op, x, y, 0, 0);
            }
        }
    }

    @Test
    void maximumAndMinimumPropagateNaNAndOrderSignedZeros() {
        Gpu.assumeAvailable();
        double[] xs = {Double.NaN, 1, Double.NaN, -0.0, 0.0, -0.0, Double.NEGATIVE_INFINITY, 3};
        double[] ys = {1, Double.NaN, Double.NaN, 0.0, -0.0, -0.0, 5, Double.POSITIVE_INFINITY};
        for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            Tensor x = Tensor.of(xs, xs.length).to(t), y = Tensor.of(ys, ys.length).to(t);
            for (Op2 op : concat(ARITH, CMP)) checkBinary(op.name + " special " + t, op, x, y, 0, 0);
        }
    }

    @Test
    void integerArithmeticIsExactInInt64() {
        Gpu.assumeAvailable();
        long big = (1L << 62) + 12345;
        Tensor x = Tensor.of(new long[] {big, -big, (1L << 53) + 1, Long.MAX_VALUE, Long.MIN_VALUE, 7, -7, 0}, 8);
        Tensor y = Tensor.of(new long[] {3, big, 1, 1, -1, -3, 4, 0}, 8);
        for (Op2 op : concat(ARITH, CMP)) {
            if (op.name.equals("div")) continue;
            checkBinary(op.name + " i64", op, x, y, 0, 0);
            checkBinary(op.name + " i64 broadcast", op, x.reshape(8, 1), y.reshape(1, 8), 0, 0);
        }
        checkBinary("div i64 → f32", new Op2("div", Tensor::div), x, y.add(100), 0, 0);
        checkBinary("pow i64 → f32", new Op2("pow", Tensor::pow), Tensor.of(new long[] {2, 3, -2, 5}, 4), Tensor.of(new long[] {10, 3, 3, 0}, 4), 0, 0);
        Tensor i32 = Tensor.of(new int[] {Integer.MAX_VALUE, Integer.MIN_VALUE, 65536, -5}, 4);
        Tensor i32b = Tensor.of(new int[] {1, -1, 65536, 3}, 4);
        for (Op2 op : concat(ARITH, CMP)) {
            checkBinary(op.name + " i32 (wraps)", op, i32, i32b, 0, 0);
            checkBinary(op.name + " i32·i64", op, i32, y.narrow(0, 0, 4), 0, 0);
        }
        Tensor u8 = Tensor.ofBytes(new byte[] {(byte) 200, 100, 0, (byte) 255}, 4), u8b = Tensor.ofBytes(new byte[] {100, (byte) 200, 1, 1}, 4);
        for (Op2 op : concat(ARITH, CMP)) checkBinary(op.name + " u8 (wraps)", op, u8, u8b, 0, 0);
        Tensor p = Tensor.of(new boolean[] {true, true, false, false}, 4), q = Tensor.of(new boolean[] {true, false, true, false}, 4);
        for (Op2 op : concat(ARITH, CMP)) checkBinary(op.name + " bool", op, p, q, 0, 0);
    }

    @Test
    void binaryOpsOnLargeTensors() {
        Gpu.assumeAvailable();
        Generator g = new Generator(24);
        int n = (1 << 22) + 3;
        Tensor a = Tensor.randn(g, n), b = Tensor.randn(g, n);
        checkBinary("add large f32", ARITH.get(0), a, b, 0, 0);
        checkBinary("mul large bf16", ARITH.get(2), a.to(DType.BF16), b.to(DType.BF16), 0, 0);
        checkBinary("lt large f32", CMP.get(2), a, b, 0, 0);
        checkBinary("sub large broadcast", ARITH.get(1), a.narrow(0, 0, 1 << 22).reshape(4, 1 << 20), b.narrow(0, 0, 1 << 20), 0, 0);
    }

    // ------------------------------------------------------------------------------------------------ copies and casts

    @Test
    void castsBetweenEveryPairOfDtypesMatchTheCpuExactly() {
        Gpu.assumeAvailable();
        double[] v = {0, -0.0, 1, -1, 0.5, -1.5, 2.7, -2.7, 255, 256, 300, -129, 65504, 70000, 1e10, -1e10, 3.4e38, 1e300, 1e-45,
                Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 16777217, 123456.789};
        Tensor base = Tensor.of(v, v.length);
        for (DType from : ALL) {
            Tensor x = base.to(from);
            Tensor xg = x.to(CUDA);
            for (DType to : ALL) {
                same(from + "→" + to, x.to(to), xg.to(to), 0, 0);
            }
        }
        Tensor big = Tensor.of(new long[] {(1L << 62) + 1, -(1L << 53) - 1, Long.MAX_VALUE, Long.MIN_VALUE, 4294967297L}, 5);
        for (DType to : ALL) same("i64 big→" + to, big.to(to), big.to(CUDA).to(to), 0, 0);
    }

    @Test
    void copiesOfStridedAndBroadcastViews() {
        Gpu.assumeAvailable();
        Tensor x = Tensor.randn(new Generator(31), 6, 10, 7);
        for (DType t : ALL) {
            Tensor c = x.mul(10).to(t), cg = c.to(CUDA);
            same("permuted clone " + t, c.permute(2, 0, 1).contiguous(), cg.permute(2, 0, 1).contiguous(), 0, 0);
            same("sliced clone " + t, c.slice(1, 1, 9, 3).contiguous(), cg.slice(1, 1, 9, 3).contiguous(), 0, 0);
            same("expanded clone " + t, c.narrow(1, 4, 1).expand(6, 5, 7).contiguous(), cg.narrow(1, 4, 1).expand(6, 5, 7).contiguous(), 0, 0);
            same("misaligned clone " + t, c.narrow(0, 1, 3).contiguous(), cg.narrow(0, 1, 3).contiguous(), 0, 0);
            for (DType to : ALL) {
                same("permuted cast " + t + "→" + to, c.permute(1, 2, 0).to(to), cg.permute(1, 2, 0).to(to), 0, 0);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ where

    @Test
    void whereMatchesTheCpu() {
        Gpu.assumeAvailable();
        Generator g = new Generator(41);
        Tensor a = Tensor.randn(g, 7, 19), b = Tensor.randn(g, 7, 19);
        Tensor cond = a.gt(b), rowCond = Tensor.randn(g, 7, 1).gt(Tensor.scalar(0));
        for (DType ta : ALL) {
            for (DType tb : new DType[] {DType.F32, DType.F64, DType.I64, DType.BF16}) {
                Tensor x = a.mul(5).to(ta), y = b.mul(5).to(tb);
                checkWhere("where " + ta + "," + tb, cond, x, y);
                checkWhere("where row cond " + ta + "," + tb, rowCond, x, y.narrow(0, 0, 1));
                checkWhere("where scalar other " + ta + "," + tb, cond.transpose(0, 1), x.transpose(0, 1), Tensor.scalar(-3).to(tb));
            }
        }
        Tensor big = Tensor.of(new long[] {(1L << 60) + 3, 5, -(1L << 61) - 7}, 3);
        checkWhere("where i64 exact", Tensor.of(new boolean[] {true, false, true}, 3), big, big.neg());
    }

    // ------------------------------------------------------------------------------------------------ fill and in-place

    @Test
    void fillAndInPlaceOpsMatchTheCpu() {
        Gpu.assumeAvailable();
        Generator g = new Generator(51);
        for (DType t : ALL) {
            for (double v : new double[] {0, 2.5, -3.7, 300, Double.NaN, 1e10}) {
                Tensor c = Tensor.zeros(t, 5, 9), cg = c.to(CUDA);
                same("fill " + v + " " + t, c.fill(v), cg.fill(v), 0, 0);
                Tensor d = Tensor.ones(t, 5, 9), dg = d.to(CUDA);
                d.narrow(1, 2, 5).fill(v);
                dg.narrow(1, 2, 5).fill(v);
                same("fill view " + v + " " + t, d, dg, 0, 0);
                Tensor e = Tensor.ones(t, 4, 1001), eg = e.to(CUDA); // odd row length: misaligned rows in the view
                e.narrow(0, 1, 2).fill(v);
                eg.narrow(0, 1, 2).fill(v);
                same("fill misaligned " + v + " " + t, e, eg, 0, 0);
            }
        }
        Tensor a = Tensor.randn(g, 6, 33), b = Tensor.randn(g, 33);
        for (DType t : new DType[] {DType.F32, DType.BF16, DType.F64, DType.I64}) {
            Tensor x = a.mul(7).to(t), xg = x.to(CUDA), y = b.mul(7).to(t), yg = y.to(CUDA);
            same("addInPlace " + t, x.addInPlace(y), xg.addInPlace(yg), 0, 0);
            same("mulInPlace " + t, x.mulInPlace(y), xg.mulInPlace(yg), 0, 0);
            same("self mulInPlace " + t, x.mulInPlace(x), xg.mulInPlace(xg), 0, 0);
            same("affineInPlace " + t, x.affineInPlace(0.5, -1), xg.affineInPlace(0.5, -1), 0, 0);
            same("copyFrom broadcast " + t, x.copyFrom(b), xg.copyFrom(b.to(CUDA)), 0, 0);
            Tensor z = Tensor.zeros(t, 33, 6), zg = z.to(CUDA);
            same("copyFrom transposed cast " + t, z.copyFrom(a.transpose(0, 1)), zg.copyFrom(a.to(CUDA).transpose(0, 1)), 0, 0);
        }
    }

    // ------------------------------------------------------------------------------------------------ autograd

    @Test
    void gradientsOfAnElementwiseExpressionMatchTheCpu() {
        Gpu.assumeAvailable();
        Generator g = new Generator(61);
        Tensor x0 = Tensor.randn(g, 5, 7), y0 = Tensor.randn(g, 5, 7);
        for (DType t : new DType[] {DType.F32, DType.F64}) {
            Tensor[] cpu = grads(x0.to(t), y0.to(t), CPU);
            Tensor[] gpu = grads(x0.to(t), y0.to(t), CUDA);
            double[] tol = t == DType.F64 ? new double[] {1e-11, 1e-12} : new double[] {2e-5, 2e-6};
            same("forward " + t, cpu[0], gpu[0], tol[0], tol[1]);
            same("dx " + t, cpu[1], gpu[1], tol[0], tol[1]);
            same("dy " + t, cpu[2], gpu[2], tol[0], tol[1]);
        }
    }

    /** z = an expression of x and y over most elementwise ops; backward with a ones seed; returns z, dz/dx, dz/dy. */
    private static Tensor[] grads(Tensor xh, Tensor yh, Device dev) {
        Tensor x = xh.to(dev).requiresGrad(true), y = yh.to(dev).requiresGrad(true);
        Tensor z = x.mul(y).add(x.sigmoid()).maximum(y.tanh()).div(y.mul(y).add(1)).gelu()
                .sub(x.pow(2).mul(0.5)).add(y.abs().add(1).log().mul(x.silu()))
                .add(x.where(x.gt(y), y.exp().neg()).softplus()).clamp(-3, 3);
        z.backward(Tensor.ones(z.dtype(), z.shape()).to(dev));
        return new Tensor[] {z.detach(), x.grad(), y.grad()};
    }

    @Test
    void anomalyModeRunsNonfiniteOnTheGpu() {
        Gpu.assumeAvailable();
        Tensor x = Tensor.of(new float[] {1, 2, -3, 4}, 4).to(CUDA).requiresGrad(true);
        Grad.setAnomalyDetection(true);
        try {
            assertThrows(ArithmeticException.class, () -> x.log());
            x.abs().log(); // finite: no complaint
        } finally {
            Grad.setAnomalyDetection(false);
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void checkUnary(String what, Op1 op, Tensor x, boolean exact) {
        double[] tol = exact ? new double[] {0, 0} : tolerance(x.dtype());
        same(what, op.f.apply(x), op.f.apply(x.to(CUDA)), tol[0], tol[1]);
    }

    private static void checkBinary(String what, Op2 op, Tensor x, Tensor y, double rtol, double atol) {
        same(what, op.f.apply(x, y), op.f.apply(x.to(CUDA), y.to(CUDA)), rtol, atol);
    }

    private static void checkWhere(String what, Tensor cond, Tensor x, Tensor y) {
        same(what, x.where(cond, y), x.to(CUDA).where(cond.to(CUDA), y.to(CUDA)), 0, 0);
    }

    private static double[] tolerance(DType t) {
        return switch (t) {
            case BF16 -> new double[] {BF16_R, BF16_A};
            case F16 -> new double[] {F16_R, F16_A};
            case F64 -> new double[] {F64_R, F64_A};
            default -> new double[] {F32_R, F32_A};
        };
    }

    /** The CUDA result equals the CPU one: dtype, shape, and values (exactly, bit for bit, when both tolerances are 0). */
    private static void same(String what, Tensor cpu, Tensor gpu, double rtol, double atol) {
        assertEquals(CPU, cpu.device(), what + ": reference not on the CPU");
        assertEquals(CUDA, gpu.device(), what + ": result not on " + CUDA);
        assertEquals(cpu.dtype(), gpu.dtype(), what + ": dtype");
        assertArrayEquals(cpu.shape(), gpu.shape(), what + ": shape");
        Tensor back = gpu.to(CPU);
        if (cpu.dtype().isIntegral()) {
            assertArrayEquals(cpu.toLongArray(), back.toLongArray(), what);
            return;
        }
        double[] want = cpu.toDoubleArray(), got = back.toDoubleArray();
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            double w = want[i], h = got[i];
            boolean ok;
            if (Double.isNaN(w) || Double.isNaN(h)) ok = Double.isNaN(w) && Double.isNaN(h);
            else if (Double.isInfinite(w) || Double.isInfinite(h)) ok = w == h;
            else if (rtol == 0 && atol == 0) ok = Double.doubleToLongBits(w) == Double.doubleToLongBits(h); // signed zeros too
            else ok = Math.abs(w - h) <= atol + rtol * Math.abs(w);
            if (!ok) fail(what + ": element " + i + " is " + h + " on " + CUDA + ", " + w + " on the CPU");
        }
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        java.util.ArrayList<T> r = new java.util.ArrayList<>(a);
        r.addAll(b);
        return r;
    }
}
