package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The F32 Vector API path against the float64 reference: outputs and every gradient, through the op's autograd.
 * Lengths cross the backward's checkpoint interval (64) with a ragged tail; N is chosen both as a multiple of the
 * vector length and not, so the vector loop and its scalar tail are both exercised.
 */
class SelectiveScanFastTest {
    static final double FWD_TOL = 2e-5, GRAD_TOL = 2e-4;

    /** Compares the two paths on an already drawn fixture. */
    static void compare(String name, ScanFixture f) {
        try (Scope s = Scope.open()) {
            Tensor[] in32 = f.inputs(DType.F32), in64 = f.inputs(DType.F64);
            for (Tensor t : in32) if (t != null) t.requiresGrad(true);
            for (Tensor t : in64) if (t != null) t.requiresGrad(true);
            ScanResult r32 = f.run(in32), r64 = f.run(in64);
            Close.assertClose(name + " y", r64.y(), r32.y(), FWD_TOL);
            if (f.withFinal) Close.assertClose(name + " final state", r64.finalState(), r32.finalState(), FWD_TOL);
            Generator g = new Generator(7);
            Tensor py = Tensor.randn(g, r32.y().shape());
            Tensor loss32 = r32.y().mul(py).sum(), loss64 = r64.y().mul(py.to(DType.F64)).sum();
            if (f.withFinal) {
                Tensor ps = Tensor.randn(g, r32.finalState().shape());
                loss32 = loss32.add(r32.finalState().mul(ps).sum());
                loss64 = loss64.add(r64.finalState().mul(ps.to(DType.F64)).sum());
            }
            loss32.backward();
            loss64.backward();
            for (int i = 0; i < in32.length; i++) {
                if (in32[i] == null) continue;
                String what = name + " d" + ScanProblem.NAMES[i];
                assertNotNull(in32[i].grad(), what);
                Close.assertClose(what, in64[i].grad(), in32[i].grad(), GRAD_TOL);
            }
        }
    }

    @Test
    void everyOptionGroupsOfTwo() {
        compare("all, G=2", new ScanFixture(11, 2, 150, 4, 8, 2, 20).all().draw());
    }

    @Test
    void plainSingleGroup() {
        compare("plain, G=1", new ScanFixture(12, 2, 70, 2, 16, 1, 32).draw());
    }

    @Test
    void groupPerHeadWithGateOnly() {
        ScanFixture f = new ScanFixture(13, 1, 65, 3, 5, 3, 16);
        f.withZ = true;
        compare("G=H, z", f.draw());
    }

    @Test
    void biasAndSoftplusWithoutD() {
        ScanFixture f = new ScanFixture(14, 2, 33, 2, 4, 1, 7);
        f.withBias = f.softplus = f.withFinal = true;
        compare("dtBias+softplus", f.draw());
    }

    @Test
    void packedWithStates() {
        compare("packed", new ScanFixture(15, 1, 140, 2, 4, 1, 16).all().packed(0, 1, 70, 70, 140).draw());
    }

    @Test
    void perStateDecay() {
        compare("A [H,N]", new ScanFixture(16, 2, 80, 6, 1, 2, 19).all().mamba1A().draw());
    }

    /** P = 70: the forward's blocks of four vectors, a single vector and a scalar tail over the head dimension. */
    @Test
    void wideHead() {
        compare("P=70", new ScanFixture(18, 1, 20, 2, 70, 1, 24).all().draw());
    }

    @Test
    void lengthOne() {
        compare("L=1", new ScanFixture(17, 3, 1, 2, 3, 1, 5).all().draw());
    }
}
