package dev.tessera.kernels.scan;

import dev.tessera.kernels.GradCheck;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** Float64 finite-difference checks of the reference backward, through the op's autograd (F64 runs the reference). */
class SelectiveScanGradTest {

    private static void check(String name, ScanFixture f) {
        try (Scope s = Scope.open()) {
            f.draw();
            GradCheck.check(name, f::runFlat, f.inputs(DType.F64));
        }
    }

    @Test
    void mamba2WithEveryOption() {
        check("all options, G=2", new ScanFixture(1, 2, 5, 4, 3, 2, 4).all());
    }

    @Test
    void mamba2Plain() {
        check("plain, G=1", new ScanFixture(2, 1, 6, 2, 2, 1, 3));
    }

    @Test
    void packedSequencesWithStates() {
        check("packed", new ScanFixture(3, 1, 7, 2, 2, 2, 3).all().packed(0, 3, 3, 7));
    }

    @Test
    void perStateDecayMamba1Style() {
        check("A [H,N]", new ScanFixture(4, 2, 4, 3, 1, 3, 4).all().mamba1A());
    }

    @Test
    void mamba1Form() {
        try (Scope s = Scope.open()) {
            ScanFixture f = new ScanFixture(5, 2, 5, 3, 1, 1, 4).all().mamba1A().draw();
            Tensor[] in = f.inputs(DType.F64);
            Tensor u = in[0].reshape(2, 5, 3), init = in[8].reshape(2, 3, 4), z = in[7].reshape(2, 5, 3), bm = in[3].reshape(2, 5, 4),
                    cm = in[4].reshape(2, 5, 4);
            GradCheck.check("mamba1", t -> {
                ScanResult r = SelectiveScan.mamba1(t[0], t[1], t[2], t[3], t[4], ScanOptions.builder().dtBias(t[5]).softplus(true)
                        .dSkip(t[6]).z(t[7]).initialState(t[8]).returnFinalState(true).build());
                return Tensor.cat(java.util.List.of(r.y().reshape(-1), r.finalState().reshape(-1)), 0);
            }, u, in[1], in[2], bm, cm, in[5], in[6], z, init);
        }
    }
}
