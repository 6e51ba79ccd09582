package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Decoding steps, packed sequences, state hand-over and extreme step sizes, each in F32 (fast) and F64 (reference). */
class SelectiveScanEdgeTest {
    private static final DType[] BOTH = {DType.F32, DType.F64};

    private static double tol(DType t) { return t == DType.F32 ? 1e-5 : 1e-12; }

    @Test
    void stepEqualsParallelAtEveryPosition() {
        for (DType t : BOTH) {
            try (Scope s = Scope.open()) {
                ScanFixture f = new ScanFixture(21, 2, 9, 4, 3, 2, 5).all().draw();
                f.withFinal = false;
                Tensor[] in = f.inputs(t);
                Tensor y = f.run(in).y();
                Tensor state = in[8].clone();
                for (int i = 0; i < f.l; i++) {
                    ScanOptions o = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(in[7].select(1, i)).build();
                    Tensor yi = SelectiveScan.step(state, in[0].select(1, i), in[1].select(1, i), in[2], in[3].select(1, i),
                            in[4].select(1, i), o);
                    Close.assertClose(t + " step " + i, y.select(1, i), yi, tol(t));
                }
            }
        }
    }

    /** The F32 step advances a contiguous state in place and a strided view of one through a copy: both as the parallel form. */
    @Test
    void stepOnAStridedStateEqualsParallel() {
        try (Scope s = Scope.open()) {
            ScanFixture f = new ScanFixture(23, 2, 6, 4, 3, 2, 5).all().draw();
            f.withFinal = false;
            Tensor[] in = f.inputs(DType.F32);
            Tensor y = f.run(in).y();
            int[] shape = in[8].shape();
            Tensor wide = Tensor.zeros(shape[0], shape[1], shape[2], shape[3] + 3);
            Tensor state = wide.narrow(3, 1, shape[3]); // not contiguous
            state.copyFrom(in[8]);
            for (int i = 0; i < f.l; i++) {
                ScanOptions o = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(in[7].select(1, i)).build();
                Tensor yi = SelectiveScan.step(state, in[0].select(1, i), in[1].select(1, i), in[2], in[3].select(1, i), in[4].select(1, i), o);
                Close.assertClose("strided step " + i, y.select(1, i), yi, tol(DType.F32));
            }
            for (double v : wide.narrow(3, 0, 1).contiguous().toDoubleArray()) org.junit.jupiter.api.Assertions.assertEquals(0.0, v, "outside the view");
        }
    }

    @Test
    void mamba1StepEqualsParallel() {
        for (DType t : BOTH) {
            try (Scope s = Scope.open()) {
                ScanFixture f = new ScanFixture(22, 2, 7, 6, 1, 1, 4).all().mamba1A().draw();
                Tensor[] in = f.inputs(t);
                Tensor u = in[0].reshape(2, 7, 6), z = in[7].reshape(2, 7, 6), bm = in[3].reshape(2, 7, 4), cm = in[4].reshape(2, 7, 4);
                ScanOptions o = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(z).build();
                Tensor y = SelectiveScan.mamba1(u, in[1], in[2], bm, cm, o).y();
                Tensor state = Tensor.zeros(t, 2, 6, 4);
                for (int i = 0; i < 7; i++) {
                    ScanOptions oi = ScanOptions.builder().dtBias(in[5]).softplus(true).dSkip(in[6]).z(z.select(1, i)).build();
                    Tensor yi = SelectiveScan.mamba1Step(state, u.select(1, i), in[1].select(1, i), in[2], bm.select(1, i), cm.select(1, i), oi);
                    Close.assertClose(t + " mamba1 step " + i, y.select(1, i), yi, tol(t));
                }
            }
        }
    }

    @Test
    void packedEqualsSeparateRuns() {
        int[] cu = {0, 5, 6, 70, 83};
        for (DType t : BOTH) {
            try (Scope s = Scope.open()) {
                ScanFixture f = new ScanFixture(23, 1, 83, 2, 3, 1, 17).all().packed(cu).draw();
                Tensor[] in = f.inputs(t);
                ScanResult packed = f.run(in);
                for (int q = 0; q + 1 < cu.length; q++) {
                    int a = cu[q], len = cu[q + 1] - a;
                    ScanOptions o = new ScanOptions(in[5], true, in[6], in[7].narrow(1, a, len), in[8].narrow(0, q, 1), null, true);
                    ScanResult one = SelectiveScan.apply(in[0].narrow(1, a, len), in[1].narrow(1, a, len), in[2], in[3].narrow(1, a, len),
                            in[4].narrow(1, a, len), o);
                    Close.assertClose(t + " sequence " + q + " y", one.y(), packed.y().narrow(1, a, len), tol(t));
                    Close.assertClose(t + " sequence " + q + " state", one.finalState(), packed.finalState().narrow(0, q, 1), tol(t));
                }
            }
        }
    }

    @Test
    void finalStateContinuesTheScan() {
        for (DType t : BOTH) {
            try (Scope s = Scope.open()) {
                ScanFixture f = new ScanFixture(24, 2, 100, 2, 4, 2, 8).all().draw();
                Tensor[] in = f.inputs(t);
                ScanResult whole = f.run(in);
                int l1 = 37, l2 = 63;
                ScanResult first = SelectiveScan.apply(in[0].narrow(1, 0, l1), in[1].narrow(1, 0, l1), in[2], in[3].narrow(1, 0, l1),
                        in[4].narrow(1, 0, l1), new ScanOptions(in[5], true, in[6], in[7].narrow(1, 0, l1), in[8], null, true));
                ScanResult second = SelectiveScan.apply(in[0].narrow(1, l1, l2), in[1].narrow(1, l1, l2), in[2], in[3].narrow(1, l1, l2),
                        in[4].narrow(1, l1, l2), new ScanOptions(in[5], true, in[6], in[7].narrow(1, l1, l2), first.finalState(), null, true));
                Close.assertClose(t + " y, first part", whole.y().narrow(1, 0, l1), first.y(), tol(t));
                Close.assertClose(t + " y, continued", whole.y().narrow(1, l1, l2), second.y(), tol(t));
                Close.assertClose(t + " final state", whole.finalState(), second.finalState(), tol(t));
            }
        }
    }

    @Test
    void extremeStepSizesStayFinite() {
        double[][] cases = {{1e-9, -1}, {1e4, -1}, {1e10, -1e30}, {50, -16}};
        for (DType t : BOTH) {
            for (double[] c : cases) {
                try (Scope s = Scope.open()) {
                    ScanFixture f = new ScanFixture(25, 1, 70, 2, 3, 1, 16).draw();
                    f.withFinal = true;
                    Tensor[] in = f.inputs(t);
                    in[1] = Tensor.full(c[0], t, 1, 70, 2).requiresGrad(true);
                    in[2] = Tensor.full(c[1], t, 2).requiresGrad(true);
                    for (Tensor v : in) if (v != null) v.requiresGrad(true);
                    ScanResult r = f.run(in);
                    r.y().sum().add(r.finalState().sum()).backward();
                    List<Tensor> all = new ArrayList<>(List.of(r.y(), r.finalState()));
                    for (Tensor v : in) if (v != null) all.add(v.grad());
                    for (Tensor v : all) for (double d : v.toDoubleArray()) assertTrue(Double.isFinite(d), t + " dt=" + c[0] + " A=" + c[1]);
                    if (c[1] == -1e30) { // A·dt → −∞: every step forgets the past; the state is the last input term alone
                        Close.assertClose(t + " decayed state", in[0].select(1, 69).unsqueeze(-1).mul(in[3].select(1, 69).unsqueeze(1))
                                .mul(c[0]), r.finalState(), 1e-6);
                    }
                }
            }
        }
    }

    @Test
    void tinyAndLargeStepSizesMatchTheReference() {
        for (double dt : new double[] {1e-6, 30}) {
            ScanFixture f = new ScanFixture(26, 2, 66, 2, 4, 1, 16);
            f.withD = f.withZ = f.withFinal = true;
            try (Scope s = Scope.open()) {
                f.draw();
                f.f32[1] = Tensor.full(dt, DType.F32, 2, 66, 2);
                SelectiveScanFastTest.compare("dt=" + dt, f);
            }
        }
    }
}
