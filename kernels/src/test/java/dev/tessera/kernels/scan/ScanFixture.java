package dev.tessera.kernels.scan;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * Random inputs for one selective-scan configuration. Values are drawn in F32 and widened, so the F32 and F64 copies
 * hold the same numbers and the fast path can be compared with the reference.
 */
final class ScanFixture {
    final int b, l, h, p, g, n;
    boolean perStateA, withBias, softplus, withD, withZ, withInit, withFinal;
    int[] cu;
    /** x, dt, A, Bm, Cm, dtBias, Dskip, z, initialState (F32); nulls for absent options. */
    final Tensor[] f32 = new Tensor[ScanProblem.COUNT];

    ScanFixture(long seed, int b, int l, int h, int p, int g, int n) {
        this.b = b; this.l = l; this.h = h; this.p = p; this.g = g; this.n = n;
        this.seed = seed;
    }

    private final long seed;

    ScanFixture all() { withBias = softplus = withD = withZ = withInit = withFinal = true; return this; }
    ScanFixture packed(int... cuSeqlens) { cu = cuSeqlens; return this; }
    ScanFixture mamba1A() { perStateA = true; return this; }

    int sequences() { return cu == null ? b : cu.length - 1; }

    ScanFixture draw() {
        Generator gen = new Generator(seed);
        f32[ScanProblem.X] = Tensor.randn(gen, b, l, h, p);
        f32[ScanProblem.DT] = softplus ? Tensor.randn(gen, b, l, h).mul(0.5) : Tensor.rand(gen, b, l, h).mul(0.5).add(0.01);
        f32[ScanProblem.A] = (perStateA ? Tensor.rand(gen, h, n) : Tensor.rand(gen, h)).add(0.5).neg();
        f32[ScanProblem.BM] = Tensor.randn(gen, b, l, g, n).mul(0.5);
        f32[ScanProblem.CM] = Tensor.randn(gen, b, l, g, n).mul(0.5);
        if (withBias) f32[ScanProblem.DT_BIAS] = Tensor.randn(gen, h).mul(0.5);
        if (withD) f32[ScanProblem.D_SKIP] = Tensor.randn(gen, h);
        if (withZ) f32[ScanProblem.Z] = Tensor.randn(gen, b, l, h, p);
        if (withInit) f32[ScanProblem.INIT] = Tensor.randn(gen, sequences(), h, p, n).mul(0.5);
        return this;
    }

    /** Independent leaf copies in the given dtype. */
    Tensor[] inputs(DType t) {
        Tensor[] out = new Tensor[f32.length];
        for (int i = 0; i < out.length; i++) out[i] = f32[i] == null ? null : f32[i].to(t).clone();
        return out;
    }

    ScanOptions options(Tensor[] in) {
        return new ScanOptions(in[ScanProblem.DT_BIAS], softplus, in[ScanProblem.D_SKIP], in[ScanProblem.Z], in[ScanProblem.INIT], cu,
                withFinal);
    }

    ScanResult run(Tensor[] in) {
        return SelectiveScan.apply(in[0], in[1], in[2], in[3], in[4], options(in));
    }

    /** y and (when asked) the final state, flattened into one vector: a single output for gradient checks. */
    Tensor runFlat(Tensor[] in) {
        ScanResult r = run(in);
        return withFinal ? Tensor.cat(List.of(r.y().reshape(-1), r.finalState().reshape(-1)), 0) : r.y().reshape(-1);
    }
}
