package dev.tessera.kernels.routing;

import dev.tessera.kernels.GradCheck;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Float64 finite-difference checks of the reference backward, through the public ops (F64 runs the reference). */
class ChunkRoutingGradTest {
    private static Tensor randn(long seed, int... shape) { return Tensor.randn(new Generator(seed), shape).to(DType.F64); }

    @Test
    void routeWrtQAndK() {
        try (Scope s = Scope.open()) {
            Tensor mask = Tensor.of(new boolean[] {true, true, true, true, true, true, false, true, true, true, true, false}, 2, 6);
            // c = max(p, 1 − p) is a real function of p (not an STE), so it is checked here too.
            GradCheck.check("route", in -> {
                Routing r = ChunkRouter.route(in[0], in[1], mask);
                return r.p().add(r.c().mul(0.5));
            }, randn(1, 2, 6, 3), randn(2, 2, 6, 3));
        }
    }

    @Test
    void routePackedWrtQAndK() {
        try (Scope s = Scope.open()) {
            Tensor cu = Tensor.of(new long[] {0, 3, 7}, 3);
            GradCheck.check("routePacked", in -> ChunkRouter.routePacked(in[0], in[1], cu).p(), randn(3, 1, 7, 4), randn(4, 1, 7, 4));
        }
    }

    @Test
    void chunkWrtX() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(new boolean[] {true, false, true, true, false, true, false, false, false, false}, 2, 5);
            GradCheck.check("chunk", in -> ChunkRouter.chunk(in[0], b).x(), randn(5, 2, 5, 3));
        }
    }

    private static final boolean[] B = {true, false, false, true, true, false, true, true, false, true, false, false, false, true};

    @Test
    void dechunkWrtZhatAndP() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(B, 2, 7);
            Tensor p = Tensor.rand(new Generator(6), 2, 7).mul(0.9).add(0.05).to(DType.F64);
            Tensor c = Tensor.ones(DType.F64, 2, 7);
            GradCheck.check("dechunk", in -> ChunkRouter.dechunk(in[0], in[1], b, c), randn(7, 2, 4, 3), p);
        }
    }

    @Test
    void dechunkPackedWrtZhatAndP() {
        try (Scope s = Scope.open()) {
            // Sequences [0, 3) and [3, 7): both start with a boundary, as route guarantees.
            Tensor b = Tensor.of(new boolean[] {true, false, true, true, false, false, true}, 1, 7);
            Tensor cu = Tensor.of(new int[] {0, 3, 7}, 3);
            Tensor p = Tensor.rand(new Generator(8), 1, 7).mul(0.9).add(0.05).to(DType.F64);
            Tensor c = Tensor.ones(DType.F64, 1, 7);
            GradCheck.check("dechunkPacked", in -> ChunkRouter.dechunkPacked(in[0], in[1], b, c, cu), randn(9, 1, 4, 3), p);
        }
    }

    /** STE: the forward ignores c, and dc_t = ⟨dout_t, out_t⟩ (the derivative of out·c at c = 1). */
    @Test
    void dechunkConfidenceGradientIsTheStraightThroughEstimate() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(B, 2, 7);
            Tensor p = Tensor.rand(new Generator(10), 2, 7).to(DType.F64);
            Tensor c = Tensor.rand(new Generator(11), 2, 7).to(DType.F64).requiresGrad(true);
            Tensor zhat = randn(12, 2, 4, 3);
            Tensor proj = randn(13, 2, 7, 3);
            Tensor out = ChunkRouter.dechunk(zhat, p, b, c);
            out.mul(proj).sum().backward();
            double[] expected = out.detach().mul(proj).sum(new int[] {2}, false).toDoubleArray(), got = c.grad().toDoubleArray();
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], got[i], 1e-12, "dc[" + i + "]");
        }
    }

    @Test
    void ratioLossWrtP() {
        try (Scope s = Scope.open()) {
            Tensor b = Tensor.of(B, 2, 7);
            Tensor mask = Tensor.of(new boolean[] {true, true, true, true, true, true, true, true, true, true, true, false, false, false}, 2, 7);
            GradCheck.check("ratioLoss", in -> ChunkRouter.ratioLoss(b, in[0], 4, mask), Tensor.rand(new Generator(14), 2, 7).to(DType.F64));
        }
    }
}
