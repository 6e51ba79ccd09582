package dev.tessera.kernels.conv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fused convolution step against the unfused one — the causal convolution over the window [state; x], its last
 * position, and the state's rows moved up — bit for bit, and against the float64 reference; over batch sizes,
 * channel counts at and off the vector length, widths 2 to 4, and inputs read at a row stride.
 */
class CausalConvStepTest {
    /** Random inputs for one step; x is a slice of a wider tensor, as Mamba-2's input projection gives it. */
    record Case(Tensor state, Tensor x, Tensor weight, Tensor bias) {
        static Case random(long seed, int batch, int ch, int k, boolean withBias, DType dt, Device device) {
            Generator g = new Generator(seed);
            Tensor wide = Tensor.randn(g, batch, ch + 7).to(dt).to(device);
            return new Case(Tensor.randn(g, batch, k - 1, ch).to(dt).to(device), wide.narrow(1, 3, ch), Tensor.randn(g, ch, k).mul(0.5).to(dt).to(device),
                    withBias ? Tensor.randn(g, ch).to(dt).to(device) : null);
        }
    }

    /** y and the advanced state of the unfused step, on copies (the inputs stay as they were). */
    static Tensor[] unfused(Case c) {
        int k = c.weight().size(1);
        Tensor window = Tensor.cat(List.of(c.state(), c.x().unsqueeze(1)), 1);
        Tensor y = Functional.causalConv1d(window, c.weight(), c.bias()).narrow(1, k - 1, 1).squeeze(1).contiguous();
        return new Tensor[] {y, window.narrow(1, 1, k - 1).contiguous()};
    }

    static void checkAgainstUnfused(Device device, DType dt) {
        for (int batch : new int[] {1, 3}) {
            for (int ch : new int[] {1, 5, 16, 37, 160}) {
                for (int k : new int[] {2, 3, 4}) {
                    for (boolean withBias : new boolean[] {true, false}) {
                        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                            Case c = Case.random(batch * 1000 + ch * 10 + k, batch, ch, k, withBias, dt, device);
                            Tensor[] want = unfused(c);
                            Tensor y = CausalConvStep.apply(c.state(), c.x(), c.weight(), c.bias());
                            String what = dt + " on " + device + ", B" + batch + " C" + ch + " K" + k + (withBias ? "" : " no bias");
                            assertArrayEquals(want[0].to(Device.cpu()).toDoubleArray(), y.to(Device.cpu()).toDoubleArray(), 0, "y, " + what);
                            assertArrayEquals(want[1].to(Device.cpu()).toDoubleArray(), c.state().to(Device.cpu()).toDoubleArray(), 0, "state, " + what);
                        }
                    }
                }
            }
        }
    }

    @Test
    void givesTheUnfusedStepsBitsOnTheCpu() {
        checkAgainstUnfused(Device.cpu(), DType.F32);
        checkAgainstUnfused(Device.cpu(), DType.F64);
    }

    @Test
    void f32FollowsTheFloat64Reference() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Case c = Case.random(5, 4, 45, 4, true, DType.F32, Device.cpu());
            Case wide = new Case(c.state().to(DType.F64), c.x().to(DType.F64), c.weight().to(DType.F64), c.bias().to(DType.F64));
            double[] want = CausalConvStep.apply(wide.state(), wide.x(), wide.weight(), wide.bias()).toDoubleArray();
            double[] got = CausalConvStep.apply(c.state(), c.x(), c.weight(), c.bias()).toDoubleArray();
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-5 * Math.max(1, Math.abs(want[i])), "y at " + i);
            assertArrayEquals(wide.state().toDoubleArray(), c.state().toDoubleArray(), 0, "the same inputs moved into the state");
        }
    }

    @Test
    void repeatedStepsFollowTheParallelConvolution() {
        // stepping a sequence through a zero state gives the causal convolution of the whole sequence, position by position
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            int batch = 2, len = 9, ch = 21, k = 4;
            Generator gen = new Generator(8);
            Tensor seq = Tensor.randn(gen, batch, len, ch), w = Tensor.randn(gen, ch, k), b = Tensor.randn(gen, ch);
            double[] parallel = Functional.causalConv1d(seq, w, b).toDoubleArray();
            Tensor state = Tensor.zeros(batch, k - 1, ch);
            for (int t = 0; t < len; t++) {
                double[] y = CausalConvStep.apply(state, seq.narrow(1, t, 1).squeeze(1), w, b).toDoubleArray();
                for (int r = 0; r < batch; r++) {
                    for (int c = 0; c < ch; c++) {
                        assertEquals(parallel[(r * len + t) * ch + c], y[r * ch + c], 0, "row " + r + ", position " + t + ", channel " + c);
                    }
                }
            }
        }
    }

    @Test
    void refusesWhatItCannotStep() {
        try (Scope s = Scope.open()) {
            Case c = Case.random(1, 2, 8, 4, true, DType.F32, Device.cpu());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CausalConvStep.apply(Tensor.zeros(2, 2, 8), c.x(), c.weight(), c.bias()));
            assertTrue(e.getMessage().startsWith("causal_conv_step: shapes do not fit") && e.getMessage().contains("[2, 3, 8]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CausalConvStep.apply(c.state(), c.x(), c.weight(), Tensor.zeros(5)));
            assertTrue(e.getMessage().contains("bias [5]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> CausalConvStep.apply(c.state().permute(0, 2, 1).contiguous().permute(0, 2, 1), c.x(), c.weight(), c.bias()));
            assertTrue(e.getMessage().contains("must be contiguous"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> CausalConvStep.apply(c.state(), c.x(), c.weight().detach().requiresGrad(true), c.bias()));
            assertTrue(e.getMessage().contains("not differentiable"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> CausalConvStep.apply(c.state(), c.x().to(DType.F64), c.weight(), c.bias()));
            assertTrue(e.getMessage().contains("F64 on cpu like x"), e.getMessage());
        }
    }
}
