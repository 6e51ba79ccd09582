package dev.tessera.kernels.rotary;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.Arrays;

/**
 * Fused rotary position embedding, GPT-NeoX style (non-interleaved; RoFormer, arXiv 2104.09864). For x [..., L, P]
 * and tables cos, sin [L, R/2] (R ≤ P even, the rotated channels), each row at position l splits its first R
 * channels into halves x₁ = x[:R/2], x₂ = x[R/2:R] and gives
 * {@code y₁ = x₁·cos_l − x₂·sin_l}, {@code y₂ = x₂·cos_l + x₁·sin_l}; channels R..P pass through. The backward is
 * the inverse rotation: {@code dx₁ = dy₁·cos + dy₂·sin}, {@code dx₂ = dy₂·cos − dy₁·sin}. The tables are constants
 * (no gradient).
 *
 * <p>One pass each way, where the composition from runtime ops (two narrows, four products, a difference, a sum and a
 * concatenation, and their backward) makes about ten. The tables are F64 for F64 inputs and F32 otherwise (the
 * accumulation type). CPU: F32 runs {@link RotaryCpu}, F64 {@link RotaryReference}; CUDA: {@link RotaryCuda} runs
 * native/cuda/kernels/rotary.cu for F32, F64, BF16 and F16. The output is contiguous; a strided x is read through
 * one contiguous copy.
 */
public final class Rotary {
    private Rotary() {}

    /** The rotated x; see the class comment for shapes. */
    public static Tensor apply(Tensor x, Tensor cos, Tensor sin) {
        check(x, cos, sin);
        int p = x.size(-1), l = x.size(-2), half = cos.size(1);
        long rows = x.numel() / p;
        Tensor xc = x.contiguous(), cc = cos.contiguous(), sc = sin.contiguous();
        Tensor y = output(x);
        long profiled = KernelSupport.profileStart();
        rotate(xc, y, cc, sc, rows, l, p, half, 1);
        KernelSupport.profileStop("rotary", profiled);
        return KernelSupport.record("rotary", y, new Tensor[] {x}, new Tensor[] {cc, sc}, (dy, saved) -> {
            Tensor dyc = dy.contiguous();
            Tensor dx = output(dyc);
            rotate(dyc, dx, saved[0], saved[1], rows, l, p, half, -1);
            return new Tensor[] {dx};
        });
    }

    /**
     * A tensor like x for {@link #rotate} to fill: both kernels write every element, so it is left uninitialised (the
     * tests poison such memory on the CPU, and the CUDA emulator hands out NaN-filled device memory).
     */
    private static Tensor output(Tensor x) { return KernelSupport.allocateUninitialized(x.dtype(), x.shape(), x.device()); }

    /** dst = rotation of src by angle sign·θ (sign 1: forward, −1: its inverse, the backward). */
    private static void rotate(Tensor src, Tensor dst, Tensor cos, Tensor sin, long rows, int l, int p, int half, int sign) {
        if (rows == 0) return;
        if (!src.device().isCpu()) {
            RotaryCuda.rotate(src, dst, cos, sin, rows, l, p, half, sign);
        } else if (src.dtype() == DType.F32) {
            RotaryCpu.rotate(KernelSupport.segment(src), KernelSupport.offset(src), KernelSupport.segment(dst), KernelSupport.segment(cos),
                    KernelSupport.offset(cos), KernelSupport.segment(sin), KernelSupport.offset(sin), rows, l, p, half, sign);
        } else {
            RotaryReference.rotate(KernelSupport.segment(src), KernelSupport.offset(src), KernelSupport.segment(dst), KernelSupport.segment(cos),
                    KernelSupport.offset(cos), KernelSupport.segment(sin), KernelSupport.offset(sin), rows, l, p, half, sign);
        }
    }

    private static void check(Tensor x, Tensor cos, Tensor sin) {
        boolean cuda = !x.device().isCpu();
        DType dt = x.dtype();
        if (dt != DType.F32 && dt != DType.F64 && !(cuda && (dt == DType.BF16 || dt == DType.F16))) {
            throw new IllegalArgumentException("rotary: x must be F32 or F64 (BF16 and F16 too on CUDA), got " + dt + " on " + x.device());
        }
        if (x.dim() < 2) throw new IllegalArgumentException("rotary: x must be [..., L, P], got " + Arrays.toString(x.shape()));
        DType tables = dt == DType.F64 ? DType.F64 : DType.F32;
        int l = x.size(-2), p = x.size(-1);
        if (cos.dim() != 2 || !Arrays.equals(cos.shape(), sin.shape()) || cos.size(0) != l || cos.size(1) < 1 || 2 * cos.size(1) > p) {
            throw new IllegalArgumentException("rotary: cos and sin must both be [L, R/2] with L = " + l + " and 1 <= R/2 <= P/2 = " + p / 2
                    + ", for x " + Arrays.toString(x.shape()) + "; got cos " + Arrays.toString(cos.shape()) + ", sin " + Arrays.toString(sin.shape()));
        }
        if (cos.dtype() != tables || sin.dtype() != tables) {
            throw new IllegalArgumentException("rotary: the tables of a " + dt + " x must be " + tables + ", got " + cos.dtype() + " and " + sin.dtype());
        }
        if (!cos.device().equals(x.device()) || !sin.device().equals(x.device())) {
            throw new IllegalArgumentException("rotary: x is on " + x.device() + " but the tables on " + cos.device() + " and " + sin.device());
        }
    }
}
