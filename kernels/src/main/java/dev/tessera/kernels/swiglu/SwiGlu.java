package dev.tessera.kernels.swiglu;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;

/**
 * Fused SwiGLU activation — the worked example of how a kernel is added (README, "Adding a kernel").
 *
 * <p>Math: for {@code x} of shape [..., 2F] split into {@code u = x[..., :F]} and {@code g = x[..., F:]} (in that
 * order, as H-Net's MLP splits fc1's output), {@code y = u · SiLU(g)} of shape [..., F], SiLU(g) = g·σ(g)
 * (Shazeer, "GLU variants improve Transformer", arXiv 2002.05202). Gradients:
 * {@code du = dy · SiLU(g)} and {@code dg = dy · u · σ(g)·(1 + g·(1 − σ(g)))}.
 *
 * <p>One pass over memory each way, where the unfused composition (narrow, silu, mul, and their backward) makes
 * several. On the CPU, F32 runs {@link SwiGluCpu} (Vector API) and F64 runs {@link SwiGluReference}, the oracle of
 * the tests (F32 too, on a widened copy, when the {@code jdk.incubator.vector} module is absent); on CUDA,
 * {@link SwiGluCuda} runs native/cuda/kernels/swiglu.cu for F32, F64, BF16 and F16.
 */
public final class SwiGlu {
    private SwiGlu() {}

    /** y = u · SiLU(g) for x = [u | g] along the last dimension. */
    public static Tensor apply(Tensor x) {
        if (x.dim() < 1 || x.size(-1) % 2 != 0) {
            throw new IllegalArgumentException("swiglu: the last dimension must be even (u and g halves), got shape "
                    + java.util.Arrays.toString(x.shape()));
        }
        boolean cuda = !x.device().isCpu();
        if (x.dtype() != DType.F32 && x.dtype() != DType.F64 && !(cuda && (x.dtype() == DType.BF16 || x.dtype() == DType.F16))) {
            throw new IllegalArgumentException("swiglu: F32 or F64 (BF16 and F16 too on CUDA), got " + x.dtype() + " on " + x.device());
        }
        if (!cuda && x.dtype() == DType.F32 && !KernelSupport.vectorAvailable()) {
            // No Vector API module: the float64 reference on a widened copy; the conversions carry the gradient.
            return apply(x.to(DType.F64)).to(DType.F32);
        }
        int f = x.size(-1) / 2;
        int rows = (int) (x.numel() / (2L * f));
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = f;
        Tensor xc = x.contiguous();
        Tensor y = KernelSupport.allocateUninitialized(x.dtype(), outShape, x.device()); // written in full on either device
        if (cuda) {
            long profiled = KernelSupport.profileStart();
            SwiGluCuda.forward(xc, y, rows, f);
            KernelSupport.profileStop("swiglu", profiled);
        } else if (x.dtype() == DType.F32) {
            long profiled = KernelSupport.profileStart();
            SwiGluCpu.forward(KernelSupport.segment(xc), KernelSupport.offset(xc), KernelSupport.segment(y), rows, f);
            KernelSupport.profileStop("swiglu", profiled);
        } else {
            SwiGluReference.forward(KernelSupport.segment(xc), KernelSupport.offset(xc), KernelSupport.segment(y), rows, f);
        }
        return KernelSupport.record("swiglu", y, new Tensor[] {x}, new Tensor[] {xc}, (dy, saved) -> {
            Tensor xs = saved[0];
            Tensor dyc = dy.contiguous();
            Tensor dx = KernelSupport.allocateUninitialized(xs.dtype(), xs.shape(), xs.device());
            if (!xs.device().isCpu()) {
                SwiGluCuda.backward(xs, dyc, dx, rows, f);
            } else if (xs.dtype() == DType.F32) {
                SwiGluCpu.backward(KernelSupport.segment(xs), KernelSupport.offset(xs), KernelSupport.segment(dyc), KernelSupport.offset(dyc),
                        KernelSupport.segment(dx), rows, f);
            } else {
                SwiGluReference.backward(KernelSupport.segment(xs), KernelSupport.offset(xs), KernelSupport.segment(dyc),
                        KernelSupport.offset(dyc), KernelSupport.segment(dx), rows, f);
            }
            return new Tensor[] {dx};
        });
    }
}
