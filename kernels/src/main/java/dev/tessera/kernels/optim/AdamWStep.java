package dev.tessera.kernels.optim;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One AdamW update of a parameter in a single pass (Loshchilov &amp; Hutter, arXiv 1711.05101), in place:
 * <pre>
 *   m ← β₁·m + (1 − β₁)·g
 *   v ← β₂·v + (1 − β₂)·g²
 *   w ← w·(1 − lr·λ) + (m / (√(v / c₂) + ε))·(−lr / c₁)
 * </pre>
 * with the bias corrections c₁ = 1 − β₁ᵗ, c₂ = 1 − β₂ᵗ given by the caller (λ = 0 for parameters not decayed).
 *
 * <p>The same update composed from runtime ops reads and writes each parameter's memory about fourteen times and,
 * on a GPU, launches as many kernels per parameter; this reads w, g, m, v once and writes w, m, v once. On the CPU,
 * F32 runs {@link AdamWStepCpu} (Vector API, in F32) and F64 runs {@link AdamWStepReference}, the oracle of the tests;
 * on CUDA, {@link AdamWStepCuda} runs native/cuda/kernels/adamw.cu for F32 and F64. {@link #applyAll} updates a list of
 * parameters, on a GPU in one launch per 48 parameters of a device and dtype (a small model's step is otherwise dozens
 * of launches too short to fill the GPU), with the same bits as one {@link #apply} per parameter.
 */
public final class AdamWStep {
    private AdamWStep() {}

    /** The step's constants: learning rate, betas, epsilon, decoupled weight decay λ, bias corrections c₁, c₂. */
    public record Hyper(double lr, double beta1, double beta2, double eps, double weightDecay, double c1, double c2) {}

    /** One parameter's update in {@link #applyAll}: its tensors, its learning rate and its decoupled weight decay λ. */
    public record Update(Tensor w, Tensor g, Tensor m, Tensor v, double lr, double weightDecay) {}

    /** True when {@link #apply} takes these tensors: one device, one dtype (F32 or F64), one shape, all contiguous. */
    public static boolean supports(Tensor w, Tensor g, Tensor m, Tensor v) {
        DType t = w.dtype();
        if (t != DType.F32 && t != DType.F64) return false;
        for (Tensor x : new Tensor[] {g, m, v}) {
            if (x.dtype() != t || !x.device().equals(w.device()) || !Arrays.equals(x.shape(), w.shape()) || !x.isContiguous()) return false;
        }
        return w.isContiguous();
    }

    /**
     * Updates w, m and v in place from g.
     *
     * @throws IllegalArgumentException naming the tensors when {@link #supports} does not hold
     */
    public static void apply(Tensor w, Tensor g, Tensor m, Tensor v, Hyper h) {
        if (!supports(w, g, m, v)) {
            throw new IllegalArgumentException("adamw_step: w, grad, exp_avg and exp_avg_sq must be contiguous, of one shape, one dtype "
                    + "(F32 or F64) and one device; got " + describe(w) + ", " + describe(g) + ", " + describe(m) + ", " + describe(v));
        }
        long n = w.numel();
        if (n == 0) return;
        long profiled = KernelSupport.profileStart();
        if (!w.device().isCpu()) {
            AdamWStepCuda.step(w, g, m, v, n, h);
        } else if (w.dtype() == DType.F32) {
            AdamWStepCpu.step(KernelSupport.segment(w), KernelSupport.offset(w), KernelSupport.segment(g), KernelSupport.offset(g),
                    KernelSupport.segment(m), KernelSupport.offset(m), KernelSupport.segment(v), KernelSupport.offset(v), n, h);
        } else {
            AdamWStepReference.step(KernelSupport.segment(w), KernelSupport.offset(w), KernelSupport.segment(g), KernelSupport.offset(g),
                    KernelSupport.segment(m), KernelSupport.offset(m), KernelSupport.segment(v), KernelSupport.offset(v), n, h);
        }
        KernelSupport.profileStop("adamw_step", profiled);
    }

    /**
     * Applies every update, each exactly as {@link #apply} with {@code Hyper(u.lr(), beta1, beta2, eps, u.weightDecay(),
     * c1, c2)} would; on a GPU, the updates of one device and dtype in one launch per 48.
     *
     * @throws IllegalArgumentException naming the update whose tensors {@link #supports} refuses (before any is applied)
     */
    public static void applyAll(List<Update> updates, double beta1, double beta2, double eps, double c1, double c2) {
        Map<String, List<Update>> onDevices = new LinkedHashMap<>();
        for (int i = 0; i < updates.size(); i++) {
            Update u = updates.get(i);
            if (!supports(u.w(), u.g(), u.m(), u.v())) {
                throw new IllegalArgumentException("adamw_step: update " + i + ": w, grad, exp_avg and exp_avg_sq must be contiguous, of one "
                        + "shape, one dtype (F32 or F64) and one device; got " + describe(u.w()) + ", " + describe(u.g()) + ", "
                        + describe(u.m()) + ", " + describe(u.v()));
            }
            if (!u.w().device().isCpu() && u.w().numel() > 0) onDevices.computeIfAbsent(u.w().device() + " " + u.w().dtype(), k -> new ArrayList<>()).add(u);
        }
        for (Update u : updates) {
            if (u.w().device().isCpu()) apply(u.w(), u.g(), u.m(), u.v(), new Hyper(u.lr(), beta1, beta2, eps, u.weightDecay(), c1, c2));
        }
        for (List<Update> batch : onDevices.values()) {
            long profiled = KernelSupport.profileStart();
            AdamWStepCuda.stepAll(batch, beta1, beta2, eps, c1, c2);
            KernelSupport.profileStop("adamw_step", profiled);
        }
    }

    private static String describe(Tensor t) {
        return t.dtype() + " " + Arrays.toString(t.shape()) + " on " + t.device() + (t.isContiguous() ? "" : " (strided)");
    }
}
