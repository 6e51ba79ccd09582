package dev.tessera.kernels.conv;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.Arrays;

/**
 * One decoding step of a depthwise causal convolution (Mamba-2's, channels last), fused: the output for a new input
 * position and the advance of the convolution's state, in one pass and in place.
 *
 * <p>Math: with the state S [B, K−1, C] holding the last K−1 inputs (oldest first), the new input x [B, C], the
 * weight w [C, K] and the bias b [C], the output is y[b,c] = b[c] + Σ_{j<K−1} w[c,j]·S[b,j,c] + w[c,K−1]·x[b,c] —
 * the causal convolution's output at the last of the K positions [S; x] — and S becomes its last K−1 rows [S[1:]; x].
 * The taps are summed from the bias in tap order with the roundings of the convolution's own kernel on each device
 * and path (fused multiply-adds in the CPU's F32 vector lanes and on CUDA's F32, a multiply and an add in double
 * elsewhere), so a decoding step gives the bits the parallel forward gives at that position.
 *
 * <p>Unfused, the step concatenated the state and the input, ran the convolution over all K positions to keep the
 * last (the CPU kernel transposing the weight on every call) and copied the state back: four ops and K times the
 * arithmetic. Inference only: there is nothing to differentiate through a state advanced in place. On the CPU, F32
 * runs {@link CausalConvStepCpu} and F64 {@link CausalConvStepReference}, the tests' oracle; on CUDA,
 * native/cuda/kernels/conv_step.cu for F32, F64, BF16 and F16.
 */
public final class CausalConvStep {
    private static final String OP = "causal_conv_step";

    private CausalConvStep() {}

    /**
     * y [B, C] for the new inputs {@code x} [B, C] (rows at any stride, channels contiguous), advancing {@code state}
     * [B, K−1, C] (contiguous) in place; {@code weight} [C, K], {@code bias} [C] or null.
     */
    public static Tensor apply(Tensor state, Tensor x, Tensor weight, Tensor bias) {
        check(state, x, weight, bias);
        int batch = x.size(0), ch = x.size(1), k = weight.size(1);
        Tensor w = weight.contiguous(), bc = bias == null ? null : bias.contiguous();
        Tensor xs = x.size(1) <= 1 || KernelSupport.strides(x)[1] == 1 ? x : x.contiguous();
        long xRow = batch <= 1 ? ch : KernelSupport.strides(xs)[0];
        Tensor y = KernelSupport.allocateUninitialized(x.dtype(), new int[] {batch, ch}, x.device()); // written in full
        long profiled = KernelSupport.profileStart();
        if (!x.device().isCpu()) {
            CausalConvStepCuda.run(state, xs, xRow, w, bc, y, batch, ch, k);
        } else if (x.dtype() == DType.F32 && KernelSupport.vectorAvailable()) {
            CausalConvStepCpu.run(state, xs, xRow, w, bc, y, batch, ch, k);
        } else {
            CausalConvStepReference.run(state, xs, xRow, w, bc, y, batch, ch, k);
        }
        KernelSupport.profileStop(OP, profiled);
        return y;
    }

    private static void check(Tensor state, Tensor x, Tensor weight, Tensor bias) {
        if (x.dim() != 2 || weight.dim() != 2 || state.dim() != 3) {
            throw new IllegalArgumentException(OP + ": state must be [B, K-1, C], x [B, C] and weight [C, K]; got state " + str(state)
                    + ", x " + str(x) + ", weight " + str(weight));
        }
        int batch = x.size(0), ch = x.size(1), k = weight.size(1);
        if (k < 2 || weight.size(0) != ch || state.size(0) != batch || state.size(1) != k - 1 || state.size(2) != ch
                || (bias != null && (bias.dim() != 1 || bias.size(0) != ch))) {
            throw new IllegalArgumentException(OP + ": shapes do not fit: state " + str(state) + " must be [B, K-1, C] = [" + batch + ", "
                    + (k - 1) + ", " + ch + "] for x " + str(x) + " and weight " + str(weight) + " (K >= 2)"
                    + (bias == null ? "" : ", bias " + str(bias) + " [C]"));
        }
        DType dt = x.dtype();
        boolean cuda = !x.device().isCpu();
        if (dt != DType.F32 && dt != DType.F64 && !(cuda && (dt == DType.BF16 || dt == DType.F16))) {
            throw new IllegalArgumentException(OP + ": F32 or F64 (BF16 and F16 too on CUDA), got " + dt + " on " + x.device());
        }
        for (Tensor t : new Tensor[] {state, weight, bias}) {
            if (t == null) continue;
            if (t.dtype() != dt || !t.device().equals(x.device())) {
                throw new IllegalArgumentException(OP + ": every input must be " + dt + " on " + x.device() + " like x, got " + t.dtype() + " on "
                        + t.device());
            }
        }
        if (!state.isContiguous()) throw new IllegalArgumentException(OP + ": the state is advanced in place and must be contiguous, got strides "
                + Arrays.toString(KernelSupport.strides(state)));
        if (Grad.isEnabled() && (state.requiresGrad() || x.requiresGrad() || weight.requiresGrad() || (bias != null && bias.requiresGrad()))) {
            throw new IllegalArgumentException(OP + ": a decoding step is not differentiable (it advances its state in place); run it under "
                    + "Grad.noGrad() or use the convolution's forward");
        }
    }

    private static String str(Tensor t) { return Arrays.toString(t.shape()); }
}
