package dev.tessera.nn;

import dev.tessera.kernels.conv.CausalConvStep;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;

/**
 * Depthwise causal 1-D convolution over channels-last input [B, L, C] with left padding K−1. The weight is stored
 * [C, 1, K] as PyTorch's grouped Conv1d stores it; PyTorch's default init (uniform ±1/√K for weight and bias).
 */
public final class CausalConv1d extends Module {
    private final Parameter weight, bias;
    private final int channels, width;

    public CausalConv1d(int channels, int width, Generator gen) {
        this.channels = channels;
        this.width = width;
        double bound = 1 / Math.sqrt(width);
        this.weight = parameter("weight", new Parameter(Init.uniform(gen, bound, channels, 1, width)));
        this.bias = parameter("bias", new Parameter(Init.uniform(gen, bound, channels), true));
    }

    public int width() { return width; }

    public int channels() { return channels; }

    @Override public ForwardFlops forwardFlops(double positions) {
        return new ForwardFlops(0, 0, 2.0 * width * channels * positions, 0);
    }

    /** x [B, L, C] → [B, L, C]. */
    public Tensor forward(Tensor x) { return forward(x, null); }

    /**
     * x [1, L, C] → [1, L, C] over packed documents {@code cuSeqlens} = {0, …, L}: taps never reach into the
     * previous document (see {@link Functional#causalConv1d(Tensor, Tensor, Tensor, int[])}); null means no packing.
     */
    public Tensor forward(Tensor x, int[] cuSeqlens) {
        return Functional.causalConv1d(x, weight.value().reshape(channels, width), bias.value(), cuSeqlens);
    }

    /**
     * One decoding step: the output [B, C] for new inputs x [B, C] given the last K−1 inputs in {@code state}
     * [B, K−1, C], which advances in place (inference only); the bits {@link #forward} gives at that position.
     */
    public Tensor step(Tensor state, Tensor x) {
        return CausalConvStep.apply(state, x, weight.value().reshape(channels, width), bias.value());
    }
}
