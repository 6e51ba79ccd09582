package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
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
     * Slices of a projection's output (not of a leaf): the chunked backward writes dx, dt, dz, dB and dC straight into
     * their parts of the projection's gradient, with the same bits.
     */
    @Test
    void chunkedFormWritesGradientsWhereTheyLie() {
        for (ScanFixture f : new ScanFixture[] {new ScanFixture(35, 2, 70, 4, 3, 2, 5).all(), new ScanFixture(36, 1, 40, 6, 2, 3, 4).all().packed(0, 9, 40)}) {
            long copies, copied;
            try {
                ScanProblem.writeGradientsInPlace = false;
                copied = check(f, true);
            } finally {
                ScanProblem.writeGradientsInPlace = true;
            }
            copies = check(f, true);
            // dB and dC go in place when one task covers a group's heads; else its partial sums are added, then copied
            int slices;
            try (Scope s = Scope.open()) {
                f.draw();
                Tensor[] in = f.inputs(DType.F32);
                slices = ChunkedScanBackward.slicesPerGroup(ScanProblem.of("t", in[0], in[1], in[2], in[3], in[4], f.options(in)));
            }
            assertEquals(slices == 1 ? 5 : 3, copied - copies, "copies saved: dx's, dt's and dz's (and dB's and dC's with one task per group: "
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

    private static long check(ScanFixture f, boolean projected) { return check(f, projected, Device.cpu(), DType.F32); }

    /**
     * Checks f's per-position inputs as slices of wider tensors, leaves or (when {@code projected}) products, on
     * {@code device} in {@code dtype} against contiguous copies of them: the same bits forward and backward. Returns
     * the backward's copies.
     */
    static long check(ScanFixture f, boolean projected, Device device, DType dtype) {
        try (Scope s = Scope.open()) {
            f.draw();
            Tensor[] contiguous = on(f.inputs(dtype), device);
            for (Tensor t : contiguous) if (t != null) t.requiresGrad(true);
            // each per-position input a slice of its own wider [B, L, w + gap] leaf, with a different gap (row stride)
            // for each, so that mixing up two inputs' strides cannot pass
            Tensor[] packed = new Tensor[PER_POSITION.length], strided = on(f.inputs(dtype), device);
            int[] widths = new int[PER_POSITION.length], at = new int[PER_POSITION.length];
            for (int k = 0; k < PER_POSITION.length; k++) {
                int i = PER_POSITION[k];
                int[] sh = f.f32[i].shape();
                widths[k] = (int) (f.f32[i].numel() / ((long) sh[0] * sh[1]));
                at[k] = k + 1;
                packed[k] = Tensor.randn(new Generator(9 + k), f.b, f.l, widths[k] + 2 * k + 3).to(dtype).to(device);
                try (dev.tessera.runtime.Grad.Region g = dev.tessera.runtime.Grad.noGrad()) {
                    packed[k].narrow(2, at[k], widths[k]).copyFrom(contiguous[i].reshape(f.b, f.l, widths[k]));
                }
                packed[k].requiresGrad(true);
                Tensor source = projected ? packed[k].mul(1) : packed[k];
                Tensor view = source.narrow(2, at[k], widths[k]).reshape(sh);
                assertTrue(ScanProblem.rowStrided(view) && (!view.isContiguous() || f.l * f.b == 1), ScanProblem.NAMES[i]);
                strided[i] = view;
            }
            for (Tensor t : strided) if (t != null && t.isLeaf()) t.requiresGrad(true);
            ScanProblem p = ScanProblem.of("t", strided[0], strided[1], strided[2], strided[3], strided[4], f.options(strided));
            for (int i : PER_POSITION) assertSame(strided[i], p.t[i], ScanProblem.NAMES[i] + " is read in place, not copied");
            assertFalse(p.t[ScanProblem.X].isContiguous() && f.b * f.l > 1);

            Tensor want = f.runFlat(contiguous), got = f.runFlat(strided);
            assertArrayEquals(want.toDoubleArray(), got.toDoubleArray(), "outputs");
            Tensor dy = Tensor.randn(new Generator(3), want.shape()).to(dtype).to(device);
            want.backward(dy);
            Profiler.reset();
            Profiler.enable();
            try {
                got.backward(dy);
            } finally {
                Profiler.disable();
            }
            Profiler.OpStats copies = Profiler.snapshot().get("copy");
            for (int k = 0; k < PER_POSITION.length; k++) {
                int i = PER_POSITION[k];
                Tensor slice = packed[k].grad().narrow(2, at[k], widths[k]).contiguous();
                assertArrayEquals(contiguous[i].grad().reshape(f.b, f.l, widths[k]).toDoubleArray(), slice.toDoubleArray(), "d" + ScanProblem.NAMES[i]);
            }
            for (int i : new int[] {ScanProblem.A, ScanProblem.DT_BIAS, ScanProblem.D_SKIP, ScanProblem.INIT}) {
                if (contiguous[i] == null) continue;
                assertArrayEquals(contiguous[i].grad().toDoubleArray(), strided[i].grad().toDoubleArray(), "d" + ScanProblem.NAMES[i]);
            }
            return copies == null ? 0 : copies.calls();
        }
    }

    private static Tensor[] on(Tensor[] in, Device device) {
        Tensor[] out = new Tensor[in.length];
        for (int i = 0; i < in.length; i++) out[i] = in[i] == null ? null : in[i].to(device).detach();
        return out;
    }
}
