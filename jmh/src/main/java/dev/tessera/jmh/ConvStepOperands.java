package dev.tessera.jmh;

import dev.tessera.kernels.conv.CausalConvStep;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * The operands of one decoding step of a causal convolution of width {@link #K} (the state of the last K − 1 inputs,
 * a new input per row, the taps and the bias), random on one device, and the two ways of taking the step that the CPU
 * and CUDA benchmarks compare. The caller runs either inside its own scope, with gradients off.
 */
public final class ConvStepOperands implements AutoCloseable {
    public static final int K = 4;

    private final Tensor state, x, weight, bias;

    public ConvStepOperands(int batch, int channels, Device device) {
        Generator g = new Generator(1);
        try (Scope s = Scope.open()) {
            state = s.keep(Tensor.randn(g, batch, K - 1, channels).to(device));
            x = s.keep(Tensor.randn(g, batch, channels).to(device));
            weight = s.keep(Tensor.randn(g, channels, K).to(device));
            bias = s.keep(Tensor.randn(g, channels).to(device));
        }
    }

    /** The fused step: y [B, C], the state advanced in place. */
    public Tensor fused() { return CausalConvStep.apply(state, x, weight, bias); }

    /**
     * The unfused step it replaced in Mamba2.step: concatenate the state and the new input, convolve all K positions,
     * keep the last, copy the state back.
     */
    public Tensor unfused() {
        Tensor window = Tensor.cat(List.of(state, x.unsqueeze(1)), 1);
        Tensor y = Functional.causalConv1d(window, weight, bias).narrow(1, K - 1, 1);
        state.copyFrom(window.narrow(1, 1, K - 1));
        return y;
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {state, x, weight, bias}) t.close();
    }
}
