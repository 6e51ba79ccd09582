package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.awayFromZero;
import static dev.tessera.runtime.Expect.randn64;
import static dev.tessera.runtime.Expect.uniform64;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Float64 central-difference gradient checks (eps 1e-6, atol 1e-5, rtol 1e-3, see {@link GradCheck}) of every
 * differentiable op, with broadcast and non-contiguous inputs. Inputs stay away from kinks (abs, relu, clamp,
 * max/min) because a finite difference across a kink means nothing.
 */
class GradientCheckTest {
    private final Generator g = new Generator(2024);

    // ------------------------------------------------------------ binary arithmetic

    @Test
    void addSubMulDivSameShape() {
        GradCheck.check("add", x -> x[0].add(x[1]), randn64(g, 2, 3), randn64(g, 2, 3));
        GradCheck.check("sub", x -> x[0].sub(x[1]), randn64(g, 2, 3), randn64(g, 2, 3));
        GradCheck.check("mul", x -> x[0].mul(x[1]), randn64(g, 2, 3), randn64(g, 2, 3));
        GradCheck.check("div", x -> x[0].div(x[1]), randn64(g, 2, 3), awayFromZero(g, 0.5, 2, 3));
    }

    @Test
    void binaryBroadcast() {
        GradCheck.check("add [2,3]+[3]", x -> x[0].add(x[1]), randn64(g, 2, 3), randn64(g, 3));
        GradCheck.check("sub [2,1]-[1,3]", x -> x[0].sub(x[1]), randn64(g, 2, 1), randn64(g, 1, 3));
        GradCheck.check("mul [2,1,3]*[4,1]", x -> x[0].mul(x[1]), randn64(g, 2, 1, 3), randn64(g, 4, 1));
        GradCheck.check("div [3]/[2,3]", x -> x[0].div(x[1]), randn64(g, 3), awayFromZero(g, 0.5, 2, 3));
        GradCheck.check("mul scalar tensor", x -> x[0].mul(x[1]), randn64(g, 2, 3), randn64(g));
    }

    @Test
    void binaryNonContiguous() {
        GradCheck.check("add transposed", x -> x[0].transpose(0, 1).add(x[1]), randn64(g, 3, 2), randn64(g, 2, 3));
        GradCheck.check("mul transposed both", x -> x[0].t().mul(x[1].t()), randn64(g, 3, 2), randn64(g, 3, 2));
        GradCheck.check("div sliced", x -> x[0].slice(1, 0, 4, 2).div(x[1].narrow(0, 1, 2)),
                randn64(g, 2, 4), awayFromZero(g, 0.5, 3, 2));
        GradCheck.check("sub expanded", x -> x[0].expand(3, 4).sub(x[1].permute(1, 0)), randn64(g, 1, 4), randn64(g, 4, 3));
    }

    @Test
    void scalarArithmetic() {
        GradCheck.check("add(c)", x -> x[0].add(2.5), randn64(g, 2, 3));
        GradCheck.check("sub(c)", x -> x[0].sub(-1.25), randn64(g, 2, 3));
        GradCheck.check("mul(c)", x -> x[0].mul(-3), randn64(g, 2, 3));
        GradCheck.check("div(c)", x -> x[0].div(4), randn64(g, 2, 3));
        GradCheck.check("neg", x -> x[0].neg(), randn64(g, 2, 3));
    }

    @Test
    void powTensorAndScalar() {
        GradCheck.check("pow tensor", x -> x[0].pow(x[1]), uniform64(g, 0.5, 2, 2, 3), randn64(g, 2, 3));
        GradCheck.check("pow tensor broadcast", x -> x[0].pow(x[1]), uniform64(g, 0.5, 2, 2, 3), randn64(g, 3));
        GradCheck.check("pow tensor transposed", x -> x[0].t().pow(x[1]), uniform64(g, 0.5, 2, 3, 2), randn64(g, 2, 1));
        GradCheck.check("pow 2", x -> x[0].pow(2), randn64(g, 2, 3));
        GradCheck.check("pow 3", x -> x[0].pow(3), randn64(g, 2, 3));
        GradCheck.check("pow 0.5", x -> x[0].pow(0.5), uniform64(g, 0.5, 2, 2, 3));
        GradCheck.check("pow -1.5", x -> x[0].pow(-1.5), uniform64(g, 0.5, 2, 2, 3));
    }

    @Test
    void powAtZeroBaseAndZeroExponent() {
        // 0^y for y > 0 is constant in y (derivative 0), x^0 is constant in x: no NaN gradients at these points
        GradCheck.check("pow tensor, zero base", x -> x[0].pow(x[1]),
                Tensor.of(new double[] {0, 0, 1.5, 0.7}, 4), Tensor.of(new double[] {2, 3, 2, 0}, 4));
        GradCheck.check("pow tensor, zero exponent", x -> x[0].pow(x[1]),
                Tensor.of(new double[] {0.5, 2, 1.5}, 3), Tensor.of(new double[] {0, 0, 0}, 3));
        // only d/dx here: 0^y jumps at y = 0, and a negative base has no real power for y near 0
        Tensor zeros = Tensor.zeros(DType.F64, 3);
        GradCheck.check("pow tensor, zero exponent, d/dx", x -> x[0].pow(zeros), Tensor.of(new double[] {0, 2, -1}, 3));
        GradCheck.check("pow scalar 0 at 0", x -> x[0].pow(0), Tensor.of(new double[] {0, 1.5, -2}, 3));
        GradCheck.check("pow scalar 2 at 0", x -> x[0].pow(2), Tensor.of(new double[] {0, 1.5, -2}, 3));
    }

    @Test
    void maximumMinimumAwayFromTies() {
        Tensor a = randn64(g, 2, 3);
        double[] off = {0.5, -0.5, 0.7, -0.3, 0.4, -0.6};
        double[] bv = a.toDoubleArray();
        for (int i = 0; i < bv.length; i++) bv[i] += off[i];
        GradCheck.check("maximum", x -> x[0].maximum(x[1]), a, Tensor.of(bv, 2, 3));
        GradCheck.check("minimum", x -> x[0].minimum(x[1]), Tensor.of(a.toDoubleArray(), 2, 3), Tensor.of(bv.clone(), 2, 3));
        // broadcast: a row against a column; values on a grid with distinct entries
        GradCheck.check("maximum broadcast", x -> x[0].maximum(x[1]),
                Tensor.of(new double[] {-1.0, 0.25, 1.5}, 3), Tensor.of(new double[] {0.1, -0.6}, 2, 1));
        GradCheck.check("minimum broadcast transposed", x -> x[0].t().minimum(x[1]),
                Tensor.of(new double[] {-1.0, 0.3, 2.0, -0.2, 0.9, 0.6}, 3, 2), Tensor.of(new double[] {0.1, -0.5, 1.2}, 3));
    }

    // ------------------------------------------------------------ unary

    @Test
    void smoothUnary() {
        GradCheck.check("exp", x -> x[0].exp(), randn64(g, 2, 3));
        GradCheck.check("log", x -> x[0].log(), uniform64(g, 0.2, 3, 2, 3));
        GradCheck.check("log1p", x -> x[0].log1p(), uniform64(g, -0.5, 3, 2, 3));
        GradCheck.check("sqrt", x -> x[0].sqrt(), uniform64(g, 0.2, 3, 2, 3));
        GradCheck.check("rsqrt", x -> x[0].rsqrt(), uniform64(g, 0.2, 3, 2, 3));
        GradCheck.check("tanh", x -> x[0].tanh(), randn64(g, 2, 3));
        GradCheck.check("sigmoid", x -> x[0].sigmoid(), randn64(g, 2, 3));
        GradCheck.check("silu", x -> x[0].silu(), randn64(g, 2, 3).mul(2).detach());
        GradCheck.check("softplus", x -> x[0].softplus(), Tensor.of(new double[] {-30, -3, -0.5, 0.2, 2, 19.5, 20.5, 35}, 2, 4));
        GradCheck.check("gelu", x -> x[0].gelu(), Tensor.of(new double[] {-4, -2.7, -1, -0.3, 0.01, 0.5, 1.3, 2.6, 3.5, 7}, 2, 5));
        GradCheck.check("geluTanh", x -> x[0].geluTanh(), Tensor.of(new double[] {-4, -2.7, -1, -0.3, 0.01, 0.5, 1.3, 2.6, 3.5, 7}, 2, 5));
    }

    @Test
    void unaryOnNonContiguousInputs() {
        GradCheck.check("exp transposed", x -> x[0].t().exp(), randn64(g, 3, 2));
        GradCheck.check("tanh sliced", x -> x[0].slice(0, 1, 5, 2).tanh(), randn64(g, 5, 2));
        GradCheck.check("gelu expanded", x -> x[0].expand(3, 2).gelu(), randn64(g, 1, 2));
        GradCheck.check("sigmoid permuted", x -> x[0].permute(2, 0, 1).sigmoid(), randn64(g, 2, 2, 3));
    }

    @Test
    void kinkedUnaryAwayFromKinks() {
        GradCheck.check("abs", x -> x[0].abs(), awayFromZero(g, 0.1, 2, 3));
        GradCheck.check("relu", x -> x[0].relu(), awayFromZero(g, 0.1, 2, 3));
        GradCheck.check("relu transposed", x -> x[0].t().relu(), awayFromZero(g, 0.1, 3, 2));
        GradCheck.check("clamp", x -> x[0].clamp(-0.5, 0.5),
                Tensor.of(new double[] {-2, -0.7, -0.45, -0.1, 0.2, 0.49 - 0.03, 0.6, 1.5}, 2, 4));
        GradCheck.check("clamp transposed", x -> x[0].t().clamp(-1, 0.25),
                Tensor.of(new double[] {-2, -0.9, 0.1, 0.3, 0.2, -1.1}, 3, 2));
    }

    @Test
    void whereWithBroadcast() {
        Tensor cond = Tensor.of(new boolean[] {true, false, false, true, true, false}, 2, 3);
        GradCheck.check("where", x -> x[0].where(cond, x[1]), randn64(g, 2, 3), randn64(g, 2, 3));
        Tensor rowCond = Tensor.of(new boolean[] {true, false, true}, 3);
        GradCheck.check("where broadcast", x -> x[0].where(rowCond, x[1]), randn64(g, 2, 1), randn64(g, 3));
        GradCheck.check("where transposed", x -> x[0].t().where(cond, x[1]), randn64(g, 3, 2), randn64(g));
    }

    // ------------------------------------------------------------ reductions

    @Test
    void sumAndMean() {
        GradCheck.check("sum all", x -> x[0].sum(), randn64(g, 2, 3, 2));
        GradCheck.check("sum dim", x -> x[0].sum(1), randn64(g, 2, 3, 2));
        GradCheck.check("sum dims 0,2", x -> x[0].sum(new int[] {0, 2}, false), randn64(g, 2, 3, 2));
        GradCheck.check("sum dims keepdim", x -> x[0].sum(new int[] {-1, 0}, true), randn64(g, 2, 3, 2));
        GradCheck.check("sum transposed", x -> x[0].transpose(0, 2).sum(new int[] {1}, true), randn64(g, 2, 3, 2));
        GradCheck.check("mean all", x -> x[0].mean(), randn64(g, 2, 3));
        GradCheck.check("mean dims", x -> x[0].mean(new int[] {0, 1}, false), randn64(g, 2, 3, 2));
        GradCheck.check("mean dims keepdim", x -> x[0].mean(new int[] {1, 2}, true), randn64(g, 2, 3, 2));
        GradCheck.check("mean expanded", x -> x[0].expand(4, 3).mean(new int[] {0}, false), randn64(g, 1, 3));
    }

    @Test
    void maxMinWithoutTies() {
        GradCheck.check("max all", x -> x[0].max(), randn64(g, 3, 4));
        GradCheck.check("max dim", x -> x[0].max(new int[] {1}, false), randn64(g, 3, 4));
        GradCheck.check("max dims keepdim", x -> x[0].max(new int[] {0, 2}, true), randn64(g, 2, 3, 2));
        GradCheck.check("min all", x -> x[0].min(), randn64(g, 3, 4));
        GradCheck.check("min dims", x -> x[0].min(new int[] {0, 2}, false), randn64(g, 2, 3, 2));
        GradCheck.check("min transposed keepdim", x -> x[0].t().min(new int[] {1}, true), randn64(g, 3, 4));
    }

    @Test
    void varAndLogsumexp() {
        GradCheck.check("var unbiased", x -> x[0].var(new int[] {1}, true, false), randn64(g, 3, 4));
        GradCheck.check("var biased keepdim", x -> x[0].var(new int[] {0, 2}, false, true), randn64(g, 2, 3, 2));
        GradCheck.check("var all", x -> x[0].var(new int[0], true, false), randn64(g, 2, 3));
        GradCheck.check("var transposed", x -> x[0].t().var(new int[] {-1}, true, true), randn64(g, 3, 4));
        GradCheck.check("logsumexp dim", x -> x[0].logsumexp(new int[] {1}, false), randn64(g, 3, 4));
        GradCheck.check("logsumexp dims keepdim", x -> x[0].logsumexp(new int[] {0, 2}, true), randn64(g, 2, 3, 2));
        GradCheck.check("logsumexp all", x -> x[0].logsumexp(new int[0], false), randn64(g, 2, 3));
        GradCheck.check("logsumexp permuted", x -> x[0].permute(1, 0).logsumexp(new int[] {0}, false), randn64(g, 3, 4));
    }

    // ------------------------------------------------------------ views

    @Test
    void views() {
        GradCheck.check("reshape", x -> x[0].reshape(3, -1).mul(x[1]), randn64(g, 2, 3, 2), randn64(g, 3, 4));
        GradCheck.check("reshape of transposed (copy)", x -> x[0].t().reshape(6).mul(x[1]), randn64(g, 2, 3), randn64(g, 6));
        GradCheck.check("view", x -> x[0].view(6, 2).tanh(), randn64(g, 3, 4));
        GradCheck.check("permute", x -> x[0].permute(2, 0, 1).mul(x[1]), randn64(g, 2, 3, 4), randn64(g, 4, 2, 3));
        GradCheck.check("narrow", x -> x[0].narrow(1, 1, 2).exp(), randn64(g, 2, 4));
        GradCheck.check("select", x -> x[0].select(0, 1).mul(x[0].select(1, -1).unsqueeze(1)), randn64(g, 3, 3));
        GradCheck.check("expand", x -> x[0].expand(2, 3, 4).mul(x[1]), randn64(g, 3, 1), randn64(g, 2, 3, 4));
        GradCheck.check("expand new dims", x -> x[0].expand(2, -1).tanh(), randn64(g, 3));
        GradCheck.check("squeeze", x -> x[0].squeeze().mul(x[0].squeeze(0).sum()), randn64(g, 1, 3, 1));
        GradCheck.check("unsqueeze", x -> x[0].unsqueeze(0).mul(x[0].unsqueeze(-1)), randn64(g, 3));
        GradCheck.check("slice with step", x -> x[0].slice(1, 0, 5, 2).mul(x[0].slice(0, -2, 3, 1).slice(1, 1, 5, 3).sum()),
                randn64(g, 3, 5));
        // Slices of a computed tensor skip their nodes: each gradient is added into its slice of one buffer. Disjoint,
        // overlapping and strided slices, a slice of a slice, the tensor also used whole (a gradient the buffer must
        // copy, not add into), and one gradient shared by two slices (add hands both the same tensor).
        GradCheck.check("slices of an intermediate", x -> {
            Tensor y = x[0].mul(x[1]);
            Tensor a = y.narrow(1, 0, 3), b = y.narrow(1, 2, 4), c = y.slice(1, 1, 8, 2), d = y.narrow(1, 4, 4).narrow(0, 1, 2);
            Tensor shared = y.narrow(1, 5, 3).add(y.narrow(1, 0, 3));
            return a.exp().sum(1).add(b.sum(1)).add(c.mul(c).sum(1)).add(y.tanh().sum(1)).add(d.sum()).add(shared.mul(a).sum(1));
        }, randn64(g, 3, 8), randn64(g, 3, 8));
        // Slices that do not overlap are copied into an uninitialised buffer and the parts no slice covers are zeroed
        // (PartialGradient): gaps; a split then a cut along the other dim and an overlapping one (the buffer is
        // completed, then added into); a split whose whole is also used.
        GradCheck.check("disjoint slices with gaps", x -> {
            Tensor y = x[0].mul(x[1]);
            return y.narrow(1, 0, 2).exp().sum(1).add(y.narrow(1, 5, 2).pow(2).sum(1)).add(y.narrow(1, 3, 1).sum(1));
        }, randn64(g, 3, 8), randn64(g, 3, 8));
        GradCheck.check("a split, then other cuts", x -> {
            Tensor y = x[0].mul(x[1]);
            List<Tensor> parts = y.split(3, 1);
            return parts.get(0).exp().sum(1).add(parts.get(2).pow(2).sum(1)).add(y.narrow(0, 1, 2).tanh().sum())
                    .add(y.narrow(1, 2, 3).sigmoid().sum(1));
        }, randn64(g, 3, 8), randn64(g, 3, 8));
        GradCheck.check("a split and the whole", x -> {
            Tensor y = x[0].mul(x[1]);
            List<Tensor> parts = y.split(4, 1);
            return parts.get(0).exp().sum(1).add(parts.get(1).pow(2).sum(1)).mul(y.sum(1));
        }, randn64(g, 3, 8), randn64(g, 3, 8));
        GradCheck.check("flatten", x -> x[0].flatten(1, 2).mul(x[1]).add(x[0].flatten().tanh().reshape(2, 6)), randn64(g, 2, 2, 3), randn64(g, 6));
        GradCheck.check("flatten of transposed", x -> x[0].transpose(0, 2).flatten().mul(x[1]), randn64(g, 2, 2, 3), randn64(g, 12));
        GradCheck.check("transpose contiguous", x -> x[0].transpose(0, 2).contiguous().tanh(), randn64(g, 2, 3, 2));
        GradCheck.check("clone", x -> x[0].clone().mul(x[0]), randn64(g, 2, 3));
        GradCheck.check("split/chunk", x -> {
            List<Tensor> s = x[0].split(2, 1);
            List<Tensor> c = x[0].chunk(2, 0);
            return s.get(0).mul(s.get(1)).sum().add(s.get(2).sum()).add(c.get(0).sum(0).mul(c.get(1).sum(0)).sum());
        }, randn64(g, 4, 5));
    }

    // ------------------------------------------------------------ matmul

    @Test
    void matmul() {
        GradCheck.check("matmul 2d", x -> x[0].matmul(x[1]), randn64(g, 2, 3), randn64(g, 3, 4));
        GradCheck.check("matmul batched", x -> x[0].matmul(x[1]), randn64(g, 2, 2, 3), randn64(g, 2, 3, 2));
        GradCheck.check("matmul broadcast batch", x -> x[0].matmul(x[1]), randn64(g, 2, 1, 2, 3), randn64(g, 3, 3, 2));
        GradCheck.check("matmul 2d @ batched", x -> x[0].matmul(x[1]), randn64(g, 2, 3), randn64(g, 2, 3, 2));
        GradCheck.check("matmul batched @ 2d", x -> x[0].matmul(x[1]), randn64(g, 2, 2, 3), randn64(g, 3, 2));
        GradCheck.check("matmul vec @ vec", x -> x[0].matmul(x[1]), randn64(g, 4), randn64(g, 4));
        GradCheck.check("matmul vec @ mat", x -> x[0].matmul(x[1]), randn64(g, 3), randn64(g, 3, 2));
        GradCheck.check("matmul mat @ vec", x -> x[0].matmul(x[1]), randn64(g, 2, 3), randn64(g, 3));
        GradCheck.check("matmul vec @ batched", x -> x[0].matmul(x[1]), randn64(g, 3), randn64(g, 2, 3, 2));
        GradCheck.check("matmul batched @ vec", x -> x[0].matmul(x[1]), randn64(g, 2, 2, 3), randn64(g, 3));
        GradCheck.check("matmul transposed operands", x -> x[0].t().matmul(x[1].transpose(-1, -2)), randn64(g, 3, 2), randn64(g, 2, 4, 3));
        GradCheck.check("matmul same operand", x -> x[0].matmul(x[0].t()), randn64(g, 2, 3));
    }

    // ------------------------------------------------------------ combining

    @Test
    void catStackPad() {
        GradCheck.check("cat dim 0", x -> Tensor.cat(List.of(x[0], x[1]), 0), randn64(g, 1, 3), randn64(g, 2, 3));
        GradCheck.check("cat dim -1 transposed", x -> Tensor.cat(List.of(x[0].t(), x[1], x[0].t()), -1), randn64(g, 2, 2), randn64(g, 2, 1));
        GradCheck.check("stack", x -> Tensor.stack(List.of(x[0], x[1].t()), 1), randn64(g, 2, 3), randn64(g, 3, 2));
        GradCheck.check("pad last", x -> x[0].pad(new int[] {1, 2}, 0.5), randn64(g, 2, 3));
        GradCheck.check("pad two dims", x -> x[0].t().pad(new int[] {0, 1, 2, 1}, -1).tanh(), randn64(g, 3, 2));
    }

    @Test
    void triangles() {
        GradCheck.check("triu", x -> x[0].triu(0), randn64(g, 3, 4));
        GradCheck.check("tril batched", x -> x[0].tril(-1), randn64(g, 2, 3, 3));
        GradCheck.check("triu k=1 transposed", x -> x[0].t().triu(1), randn64(g, 3, 3));
    }

    // ------------------------------------------------------------ indexing

    @Test
    void indexing() {
        GradCheck.check("embedding", x -> x[0].embedding(Tensor.of(new long[] {2, 0, 2, 3, 1, 2}, 2, 3)), randn64(g, 4, 3));
        GradCheck.check("indexSelect dim 0", x -> x[0].indexSelect(0, Tensor.of(new int[] {1, 1, 0}, 3)), randn64(g, 3, 2));
        GradCheck.check("indexSelect dim 1 transposed", x -> x[0].t().indexSelect(1, Tensor.of(new long[] {2, 0, 2}, 3)), randn64(g, 3, 2));
        GradCheck.check("gather dim 1", x -> x[0].gather(1, Tensor.of(new long[] {0, 2, 2, 1, 0, 0}, 2, 3)), randn64(g, 2, 3));
        GradCheck.check("gather dim 0 transposed", x -> x[0].t().gather(0, Tensor.of(new long[] {1, 0, 2, 2, 1, 0}, 2, 3).t()),
                randn64(g, 2, 3));
        Tensor idx = Tensor.of(new long[] {0, 2, 0, 1, 1, 1}, 2, 3);
        GradCheck.check("scatterAdd", x -> x[0].scatterAdd(1, idx, x[1]), randn64(g, 2, 3), randn64(g, 2, 3));
        GradCheck.check("scatterAdd dim 0", x -> x[0].scatterAdd(0, Tensor.of(new long[] {2, 0, 0, 2}, 2, 2), x[1].t()),
                randn64(g, 3, 2), randn64(g, 2, 2));
    }

    // ------------------------------------------------------------ scans

    @Test
    void scans() {
        GradCheck.check("cumsum last", x -> x[0].cumsum(-1), randn64(g, 2, 4));
        GradCheck.check("cumsum dim 0 transposed", x -> x[0].t().cumsum(0), randn64(g, 2, 4));
        GradCheck.check("cumprod", x -> x[0].cumprod(1), randn64(g, 2, 4));
        GradCheck.check("cumprod with zero", x -> x[0].cumprod(1),
                Tensor.of(new double[] {0.5, 0.0, 1.5, -2.0, 1.2, -0.7, 0.0, 0.0}, 2, 4));
        GradCheck.check("cumprod dim 0", x -> x[0].cumprod(0), Tensor.of(new double[] {0.5, 2.0, 0.0, -1.5, 1.1, 0.8}, 3, 2));
    }

    // ------------------------------------------------------------ nn

    @Test
    void softmaxAndLogSoftmax() {
        GradCheck.check("softmax last", x -> x[0].softmax(-1), randn64(g, 2, 4));
        GradCheck.check("softmax dim 0", x -> x[0].softmax(0), randn64(g, 3, 2, 2));
        GradCheck.check("logSoftmax last", x -> x[0].logSoftmax(-1), randn64(g, 2, 4));
        GradCheck.check("logSoftmax middle transposed", x -> x[0].transpose(0, 1).logSoftmax(1), randn64(g, 3, 2, 2));
    }

    @Test
    void crossEntropy() {
        Tensor targets = Tensor.of(new long[] {2, -100, 0, 1}, 4);
        GradCheck.check("ce mean", x -> Functional.crossEntropy(x[0], targets), randn64(g, 4, 3));
        GradCheck.check("ce sum", x -> Functional.crossEntropy(x[0], targets, -100, Functional.Reduction.SUM), randn64(g, 4, 3));
        GradCheck.check("ce none", x -> Functional.crossEntropy(x[0], targets, -100, Functional.Reduction.NONE), randn64(g, 4, 3));
        Tensor t2 = Tensor.of(new long[] {1, 3, 3, 0, 2, 1}, 2, 3);
        GradCheck.check("ce 3-d, ignore 3", x -> Functional.crossEntropy(x[0], t2, 3, Functional.Reduction.MEAN), randn64(g, 2, 3, 4));
    }

    @Test
    void norms() {
        GradCheck.check("layerNorm w b", x -> Functional.layerNorm(x[0], x[1], x[2], 1e-5),
                randn64(g, 2, 2, 5), randn64(g, 5), randn64(g, 5));
        GradCheck.check("layerNorm plain", x -> Functional.layerNorm(x[0], null, null, 1e-5), randn64(g, 3, 4));
        GradCheck.check("layerNorm weight only", x -> Functional.layerNorm(x[0], x[1], null, 1e-5), randn64(g, 3, 4), randn64(g, 4));
        GradCheck.check("layerNorm transposed", x -> Functional.layerNorm(x[0].t(), x[1], x[2], 1e-5),
                randn64(g, 4, 3), randn64(g, 4), randn64(g, 4));
        GradCheck.check("rmsNorm w", x -> Functional.rmsNorm(x[0], x[1], 1e-6), randn64(g, 2, 2, 5), randn64(g, 5));
        GradCheck.check("rmsNorm plain", x -> Functional.rmsNorm(x[0], null, 1e-6), randn64(g, 3, 4));
        GradCheck.check("rmsNorm transposed", x -> Functional.rmsNorm(x[0].t(), x[1], 1e-6), randn64(g, 4, 3), randn64(g, 4));
    }

    @Test
    void causalConv1d() {
        GradCheck.check("conv bias", x -> Functional.causalConv1d(x[0], x[1], x[2]), randn64(g, 2, 5, 3), randn64(g, 3, 4), randn64(g, 3));
        GradCheck.check("conv no bias", x -> Functional.causalConv1d(x[0], x[1], null), randn64(g, 1, 4, 2), randn64(g, 2, 2));
        GradCheck.check("conv transposed x", x -> Functional.causalConv1d(x[0].transpose(1, 2), x[1], x[2]),
                randn64(g, 1, 2, 4), randn64(g, 2, 3), randn64(g, 2));
        GradCheck.check("conv K > L", x -> Functional.causalConv1d(x[0], x[1], x[2]), randn64(g, 1, 2, 2), randn64(g, 2, 4), randn64(g, 2));
    }

    @Test
    void composite() {
        // a small MLP-like chain: every node's gradient flows through shared inputs
        GradCheck.check("chain", x -> {
            Tensor h = x[0].matmul(x[1]).add(x[2]).gelu();
            return Functional.layerNorm(h, null, null, 1e-5).mul(h.sigmoid()).sum(new int[] {1}, false).logsumexp(new int[] {0}, false);
        }, randn64(g, 3, 4), randn64(g, 4, 5), randn64(g, 5));
    }
}
