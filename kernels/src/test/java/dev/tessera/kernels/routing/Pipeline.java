package dev.tessera.kernels.routing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;

/**
 * One stage's route → chunk → inner (tanh) → dechunk → loss, run through the public ops, with the forward values
 * and the gradients of q, k and x̂ kept as arrays for comparison. Run it inside a scope.
 */
record Pipeline(double[] p, double[] b, double[] c, double[] chunks, double[] out, double loss, double[] dq, double[] dk, double[] dx) {

    /** Mask null and cu null: plain rows; cu not null: packed. */
    static Pipeline run(Tensor q0, Tensor k0, Tensor x0, Tensor mask, Tensor cu, DType dt, long seed) {
        return run(q0, k0, x0, mask, cu, dt, seed, Device.cpu());
    }

    /** The same on {@code dev}: inputs, mask and the loss projections move there; cu stays where it is. */
    static Pipeline run(Tensor q0, Tensor k0, Tensor x0, Tensor mask0, Tensor cu, DType dt, long seed, Device dev) {
        Tensor q = q0.to(dt).to(dev).detach().requiresGrad(true), k = k0.to(dt).to(dev).detach().requiresGrad(true);
        Tensor x = x0.to(dt).to(dev).detach().requiresGrad(true);
        Tensor mask = mask0 == null ? null : mask0.to(dev);
        Routing r = cu == null ? ChunkRouter.route(q, k, mask) : ChunkRouter.routePacked(q, k, cu);
        Chunks ch = cu == null ? ChunkRouter.chunk(x, r.b()) : ChunkRouter.chunkPacked(x, r.b(), cu);
        Tensor zhat = ch.x().tanh();
        Tensor out = cu == null ? ChunkRouter.dechunk(zhat, r.p(), r.b(), r.c()) : ChunkRouter.dechunkPacked(zhat, r.p(), r.b(), r.c(), cu);
        Tensor proj = Tensor.randn(new Generator(seed), out.shape()).to(dt).to(dev);
        Tensor projP = Tensor.randn(new Generator(seed + 1), r.p().shape()).to(dt).to(dev);
        Tensor loss = out.mul(proj).sum().add(r.p().mul(projP).sum()).add(ChunkRouter.ratioLoss(r.b(), r.p(), 3, mask));
        loss.backward();
        return new Pipeline(r.p().toDoubleArray(), r.b().toDoubleArray(), r.c().toDoubleArray(), ch.x().toDoubleArray(),
                out.toDoubleArray(), loss.item(), q.grad().toDoubleArray(), k.grad().toDoubleArray(), x.grad().toDoubleArray());
    }

    static void assertClose(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol * (1 + Math.abs(expected[i])), what + "[" + i + "]");
        }
    }

    void assertMatches(Pipeline o, double tol) {
        assertArrayEquals(b, o.b, "b");
        assertClose(p, o.p, tol, "p");
        assertClose(c, o.c, tol, "c");
        assertClose(chunks, o.chunks, tol, "chunks");
        assertClose(out, o.out, tol, "out");
        assertEquals(loss, o.loss, tol * (1 + Math.abs(loss)), "loss");
        assertClose(dq, o.dq, tol, "dq");
        assertClose(dk, o.dk, tol, "dk");
        assertClose(dx, o.dx, tol, "dx");
    }
}
