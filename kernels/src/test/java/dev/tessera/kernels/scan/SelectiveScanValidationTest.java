package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad inputs fail with IllegalArgumentException naming the argument and its shape. */
class SelectiveScanValidationTest {
    private Scope scope;
    private Tensor x, dt, a, bm, cm;

    @BeforeEach
    void setUp() {
        scope = Scope.open();
        x = Tensor.zeros(2, 5, 4, 3);
        dt = Tensor.zeros(2, 5, 4);
        a = Tensor.full(-1, DType.F32, 4);
        bm = Tensor.zeros(2, 5, 2, 6);
        cm = Tensor.zeros(2, 5, 2, 6);
    }

    @AfterEach
    void tearDown() { scope.close(); }

    private static void fails(Executable e, String... words) {
        String m = assertThrows(IllegalArgumentException.class, e).getMessage();
        for (String w : words) assertTrue(m.contains(w), "message '" + m + "' should mention '" + w + "'");
    }

    private ScanResult run(Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions o) {
        return SelectiveScan.apply(x, dt, a, bm, cm, o);
    }

    @Test
    void wrongRank() {
        fails(() -> run(Tensor.zeros(2, 5, 12), dt, a, bm, cm, null), "x", "[2, 5, 12]");
        fails(() -> run(x, dt, a, Tensor.zeros(2, 5, 6), cm, null), "Bm", "[2, 5, 6]");
        fails(() -> run(x, dt, Tensor.zeros(4, 6, 1), bm, cm, null), "A", "[4, 6, 1]");
    }

    @Test
    void mismatchedLengths() {
        fails(() -> run(x, Tensor.zeros(2, 6, 4), a, bm, cm, null), "dt", "[2, 6, 4]", "[2, 5, 4, 3]");
        fails(() -> run(x, dt, a, bm, Tensor.zeros(2, 4, 2, 6), null), "Cm", "[2, 4, 2, 6]");
        fails(() -> run(x, dt, a, Tensor.zeros(2, 4, 2, 6), Tensor.zeros(2, 4, 2, 6), null), "Bm", "[2, 4, 2, 6]");
        fails(() -> run(x, dt, a, bm, cm, ScanOptions.builder().z(Tensor.zeros(2, 5, 4, 2)).build()), "z", "[2, 5, 4, 2]");
        fails(() -> run(x, dt, a, bm, cm, ScanOptions.builder().initialState(Tensor.zeros(2, 4, 3, 5)).build()), "initialState",
                "[2, 4, 3, 5]");
        fails(() -> run(x, dt, a, bm, cm, ScanOptions.builder().dSkip(Tensor.zeros(3)).build()), "Dskip", "[3]");
        fails(() -> run(x, dt, a, bm, cm, ScanOptions.builder().dtBias(Tensor.zeros(5)).build()), "dtBias", "[5]");
    }

    @Test
    void nonPositiveSizes() {
        fails(() -> run(Tensor.zeros(2, 0, 4, 3), Tensor.zeros(2, 0, 4), a, Tensor.zeros(2, 0, 2, 6), Tensor.zeros(2, 0, 2, 6), null),
                "positive", "[2, 0, 4, 3]");
    }

    @Test
    void headsNotAMultipleOfGroups() {
        fails(() -> run(x, dt, a, Tensor.zeros(2, 5, 3, 6), Tensor.zeros(2, 5, 3, 6), null), "multiple", "H = 4", "G = 3");
    }

    @Test
    void dtypeMismatch() {
        fails(() -> run(x, dt.to(DType.F64), a, bm, cm, null), "dtype", "dt", "F64");
        fails(() -> run(x, dt, a, bm, cm, ScanOptions.builder().z(Tensor.zeros(DType.F64, 2, 5, 4, 3)).build()), "dtype", "z");
    }

    @Test
    void badPacking() {
        Tensor x1 = Tensor.zeros(1, 5, 4, 3), dt1 = Tensor.zeros(1, 5, 4), b1 = Tensor.zeros(1, 5, 2, 6);
        fails(() -> run(x, dt, a, bm, cm, ScanOptions.builder().cuSeqlens(0, 5).build()), "cuSeqlens", "[2, 5, 4, 3]");
        fails(() -> run(x1, dt1, a, b1, b1, ScanOptions.builder().cuSeqlens(0, 3).build()), "cuSeqlens", "[0, 3]");
        fails(() -> run(x1, dt1, a, b1, b1, ScanOptions.builder().cuSeqlens(0, 4, 2, 5).build()), "cuSeqlens", "decrease");
        fails(() -> run(x1, dt1, a, b1, b1, ScanOptions.builder().cuSeqlens(0, 2, 5).initialState(Tensor.zeros(1, 4, 3, 6)).build()),
                "initialState", "[1, 4, 3, 6]");
    }

    @Test
    void stepAndMamba1Shapes() {
        fails(() -> SelectiveScan.step(Tensor.zeros(2, 4, 3), x.select(1, 0), dt.select(1, 0), a, bm.select(1, 0), cm.select(1, 0), null),
                "state", "[2, 4, 3]");
        fails(() -> SelectiveScan.mamba1(Tensor.zeros(2, 5), dt, Tensor.zeros(4, 6), bm, cm, null), "u", "[2, 5]");
        fails(() -> SelectiveScan.mamba1(dt, dt, Tensor.zeros(4, 5), Tensor.zeros(2, 5, 6), Tensor.zeros(2, 5, 6), null), "A", "[4, 5]");
    }
}
