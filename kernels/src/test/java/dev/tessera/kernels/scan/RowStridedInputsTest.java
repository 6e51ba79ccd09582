package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Profiler;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The CPU's F32 scan reads x, dt, Bm, Cm and z in place when they are slices of one projection (each position's
 * values contiguous, positions a row apart), as a Mamba layer's split input is: the same bits, forward and backward,
 * as on contiguous copies, for the chunked form, the per-state-A (sequential) form, packed sequences and one position.
 */
class RowStridedInputsTest {
    private static final int[] PER_POSITION = {ScanProblem.X, ScanProblem.DT, ScanProblem.BM, ScanProblem.CM, ScanProblem.Z};

    @Test
    void chunkedForm() { check(new ScanFixture(31, 2, 70, 4, 3, 2, 5).all()); }

    /**
     * Slices of a projection's output (not of a leaf): the chunked backward writes dx, dt, dB and dC straight into
     * their parts of the projection's gradient (dz is still copied there), with the same bits.
     */
    @Test
    void chunkedFormWritesGradientsWhereTheyLie() {
        for (ScanFixture f : new ScanFixture[] {new ScanFixture(35, 2, 70, 4, 3, 2, 5).all(), new ScanFixture(36, 1, 40, 6, 2, 3, 4).all().packed(0, 9, 40)}) {
            long copies, copied;
            try {
                SelectiveScanCpu.writeInPlace = false;
                copied = check(f, true);
            } finally {
                SelectiveScanCpu.writeInPlace = true;
            }
            copies = check(f, true);
            // dB and dC go in place when one task covers a group's heads; else its partial sums are added, then copied
            int slices;
            try (Scope s = Scope.open()) {
                f.draw();
                Tensor[] in = f.inputs(DType.F32);
                slices = ChunkedScanBackward.slicesPerGroup(ScanProblem.of("t", in[0], in[1], in[2], in[3], in[4], f.options(in)));
            }
            assertEquals(slices == 1 ? 4 : 2, copied - copies, "copies saved: dx's and dt's (and dB's and dC's with one task per group: "
                    + slices + " here)");
        }
    }

    @Test
    void perStateDecaysSequentialForm() {
        ScanFixture f = new ScanFixture(32, 2, 9, 3, 1, 3, 4).all().mamba1A();
        check(f);
    }

    @Test
    void packedSequences() { check(new ScanFixture(33, 1, 20, 4, 2, 1, 3).all().packed(0, 7, 7, 20)); }

    @Test
    void onePosition() { check(new ScanFixture(34, 3, 1, 2, 4, 1, 3).all()); }

    private static void check(ScanFixture f) { check(f, false); }

    /** Checks f's inputs cut from one tensor, a leaf or (when {@code projected}) a product; the backward's copies. */
    private static long check(ScanFixture f, boolean projected) {
        try (Scope s = Scope.open()) {
            f.draw();
            Tensor[] contiguous = f.inputs(DType.F32);
            for (Tensor t : contiguous) if (t != null) t.requiresGrad(true);
            // one [B, L, W] leaf holding every per-position input side by side, with a gap after each
            int[] widths = new int[PER_POSITION.length];
            int total = 0;
            for (int k = 0; k < PER_POSITION.length; k++) {
                int[] sh = f.f32[PER_POSITION[k]].shape();
                widths[k] = (int) (f.f32[PER_POSITION[k]].numel() / ((long) sh[0] * sh[1]));
                total += widths[k] + 3;
            }
            Tensor packed = Tensor.randn(new Generator(9), f.b, f.l, total);
            try (dev.tessera.runtime.Grad.Region g = dev.tessera.runtime.Grad.noGrad()) {
                for (int k = 0, at = 0; k < PER_POSITION.length; at += widths[k] + 3, k++) {
                    packed.narrow(2, at, widths[k]).copyFrom(contiguous[PER_POSITION[k]].reshape(f.b, f.l, widths[k]));
                }
            }
            packed.requiresGrad(true);
            Tensor source = projected ? packed.mul(1) : packed;
            Tensor[] strided = f.inputs(DType.F32);
            for (Tensor t : strided) if (t != null) t.requiresGrad(true);
            for (int k = 0, at = 0; k < PER_POSITION.length; at += widths[k] + 3, k++) {
                int i = PER_POSITION[k];
                Tensor view = source.narrow(2, at, widths[k]).reshape(f.f32[i].shape());
                assertTrue(ScanProblem.rowStrided(view) && (!view.isContiguous() || f.l * f.b == 1), ScanProblem.NAMES[i]);
                strided[i] = view;
            }
            ScanProblem p = ScanProblem.of("t", strided[0], strided[1], strided[2], strided[3], strided[4], f.options(strided));
            for (int i : PER_POSITION) assertSame(strided[i], p.t[i], ScanProblem.NAMES[i] + " is read in place, not copied");
            assertFalse(p.t[ScanProblem.X].isContiguous() && f.b * f.l > 1);

            Tensor want = f.runFlat(contiguous), got = f.runFlat(strided);
            assertArrayEquals(want.toFloatArray(), got.toFloatArray(), "outputs");
            Tensor dy = Tensor.randn(new Generator(3), want.shape());
            want.backward(dy);
            Profiler.reset();
            Profiler.enable();
            try {
                got.backward(dy);
            } finally {
                Profiler.disable();
            }
            Profiler.OpStats copies = Profiler.snapshot().get("copy");
            for (int k = 0, at = 0; k < PER_POSITION.length; at += widths[k] + 3, k++) {
                int i = PER_POSITION[k];
                Tensor slice = packed.grad().narrow(2, at, widths[k]).contiguous();
                assertArrayEquals(contiguous[i].grad().reshape(f.b, f.l, widths[k]).toFloatArray(), slice.toFloatArray(), "d" + ScanProblem.NAMES[i]);
            }
            for (int i : new int[] {ScanProblem.A, ScanProblem.DT_BIAS, ScanProblem.D_SKIP, ScanProblem.INIT}) {
                assertArrayEquals(contiguous[i].grad().toFloatArray(), strided[i].grad().toFloatArray(), "d" + ScanProblem.NAMES[i]);
            }
            return copies == null ? 0 : copies.calls();
        }
    }
}
