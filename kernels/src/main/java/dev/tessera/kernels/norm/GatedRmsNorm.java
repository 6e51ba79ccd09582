package dev.tessera.kernels.norm;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Mamba-2's gated RMSNorm, fused (the norm before the output projection, with the gate applied before normalising,
 * {@code norm_before_gate = False} in the reference; Dao and Gu, arXiv 2405.21060).
 *
 * <p>Math, per row of width D: h = x ⊙ SiLU(z), rstd = 1/√(mean(h²) + ε), y = h · rstd ⊙ w. Gradients, with
 * ĝ = dy ⊙ w: dh = rstd·ĝ − h·rstd³·mean(ĝ ⊙ h), dx = dh ⊙ SiLU(z), dz = dh ⊙ x ⊙ σ(z)(1 + z(1 − σ(z))),
 * dw = Σ_rows dy ⊙ h · rstd.
 *
 * <p>One pass to sum h² and one to write y forward, two per row backward (the row stays in cache), where the
 * composition (SiLU, product, RMSNorm and their three backward passes) reads and writes the row six times and
 * allocates the intermediates. z may be a slice of a wider tensor (the layer's input projection): it is read where it
 * lies, and its gradient written into the runtime's destination for it when there is one. On the CPU, F32 runs {@link
 * GatedRmsNormCpu} (Vector API) and F64 {@link GatedRmsNormReference}, the tests' oracle (F32 too, widened, when the
 * {@code jdk.incubator.vector} module is absent); on CUDA, {@link GatedRmsNormCuda} runs
 * native/cuda/kernels/gated_rms_norm.cu for F32, F64, BF16 and F16. rstd is kept per row in double.
 */
public final class GatedRmsNorm {
    private GatedRmsNorm() {}

    /** Off only in tests that count the copies the runtime's destination for dz saves. */
    static boolean writeInPlace = true;

    /** The rows the kernels read: x [rows, d] contiguous, z rows of d a stride apart, w [d] contiguous. */
    record Rows(Tensor x, Tensor z, long zStride, Tensor w, int rows, int d) {}

    /** y = (x ⊙ SiLU(z)) · rstd ⊙ weight over the last dimension; x and z of one shape [..., D], weight [D]. */
    public static Tensor apply(Tensor x, Tensor z, Tensor weight, double eps) {
        String op = "gated_rms_norm";
        if (x.dim() < 1) throw new IllegalArgumentException(op + ": x needs at least one dimension, got a scalar");
        if (!Arrays.equals(x.shape(), z.shape())) {
            throw new IllegalArgumentException(op + ": x " + Arrays.toString(x.shape()) + " and gate z " + Arrays.toString(z.shape())
                    + " must have one shape");
        }
        int d = x.size(-1);
        if (weight.dim() != 1 || weight.size(0) != d) {
            throw new IllegalArgumentException(op + ": weight must be [" + d + "] for x " + Arrays.toString(x.shape()) + ", got "
                    + Arrays.toString(weight.shape()));
        }
        if (z.dtype() != x.dtype() || weight.dtype() != x.dtype()) {
            throw new IllegalArgumentException(op + ": x, z and weight must share a dtype, got " + x.dtype() + ", " + z.dtype() + ", "
                    + weight.dtype());
        }
        if (!z.device().equals(x.device()) || !weight.device().equals(x.device())) {
            throw new IllegalArgumentException(op + ": x, z and weight must be on one device, got " + x.device() + ", " + z.device()
                    + ", " + weight.device());
        }
        if (!(eps >= 0)) throw new IllegalArgumentException(op + ": eps must be ≥ 0, got " + eps);
        boolean cuda = !x.device().isCpu();
        DType t = x.dtype();
        if (t != DType.F32 && t != DType.F64 && !(cuda && (t == DType.BF16 || t == DType.F16))) {
            throw new IllegalArgumentException(op + ": F32 or F64 (BF16 and F16 too on CUDA), got " + t + " on " + x.device());
        }
        if (!cuda && t == DType.F32 && !KernelSupport.vectorAvailable()) {
            // No Vector API module: the float64 reference on widened copies; the conversions carry the gradients.
            return apply(x.to(DType.F64), z.to(DType.F64), weight.to(DType.F64), eps).to(DType.F32);
        }
        int rows = (int) (x.numel() / Math.max(1, d));
        Rows p;
        try (Grad.Region g = Grad.noGrad()) {
            p = rows(x, z, weight, rows, d);
        }
        Tensor y = KernelSupport.allocateUninitialized(t, x.shape(), x.device()); // written in full on either device
        Tensor rstd = KernelSupport.allocateUninitialized(DType.F64, new int[] {rows}, x.device());
        // The CPU's F32 path keeps σ(z) for the backward: its exponentials cost more there than this tensor's pass.
        Tensor sig = !cuda && t == DType.F32 ? KernelSupport.allocateUninitialized(t, new int[] {rows, d}, x.device()) : null;
        long profiled = KernelSupport.profileStart();
        if (cuda) {
            GatedRmsNormCuda.forward(p, y, rstd, eps);
        } else {
            double[] rs = new double[rows];
            if (t == DType.F32) {
                GatedRmsNormCpu.forward(seg(p.x()), off(p.x()), seg(p.z()), off(p.z()), p.zStride(), seg(p.w()), off(p.w()), seg(y), off(y),
                        seg(sig), off(sig), rs, rows, d, eps);
            } else {
                GatedRmsNormReference.forward(seg(p.x()), off(p.x()), seg(p.z()), off(p.z()), p.zStride(), seg(p.w()), off(p.w()), seg(y),
                        off(y), rs, rows, d, eps);
            }
            if (rows > 0) java.lang.foreign.MemorySegment.copy(rs, 0, seg(rstd), ValueLayout.JAVA_DOUBLE, off(rstd) * 8, rows);
        }
        KernelSupport.profileStop(op, profiled);
        int[] shape = x.shape();
        long zStride = p.zStride(); // the backward captures sizes only; tensors come through `saved`
        return KernelSupport.record(op, y, new Tensor[] {x, z, weight}, new Tensor[] {p.x(), p.z(), p.w(), rstd, sig}, (dy, saved) -> {
            Rows s = new Rows(saved[0], saved[1], zStride, saved[2], rows, d);
            return backward(s, dy, saved[3], saved[4], shape);
        });
    }

    /** dx, dz and dw; x and z have shape {@code shape}; sig is σ(z) from the forward (CPU F32) or null. */
    private static Tensor[] backward(Rows p, Tensor dyIn, Tensor rstd, Tensor sig, int[] shape) {
        Tensor x = p.x();
        DType t = x.dtype();
        int[] zShape = shape;
        Tensor dy = dyIn.to(t).contiguous();
        Tensor dx = KernelSupport.allocateUninitialized(t, shape, x.device());
        Tensor dest = writeInPlace ? KernelSupport.gradientDestination(1) : null; // z's part of the gradient it was cut from
        long destStride = dest == null || zShape.length < 2 || dest.dtype() != t || !dest.device().equals(x.device())
                || !Arrays.equals(dest.shape(), zShape) ? -1 : KernelSupport.rowStride(dest, zShape.length - 1);
        Tensor dz = destStride >= 0 ? dest : KernelSupport.allocateUninitialized(t, zShape, x.device());
        long dzStride = destStride >= 0 ? destStride : p.d();
        Tensor dw = KernelSupport.allocateUninitialized(t, new int[] {p.d()}, x.device());
        if (!x.device().isCpu()) {
            GatedRmsNormCuda.backward(p, dy, rstd, dx, dz, dzStride, dw);
        } else {
            double[] rs = p.rows() == 0 ? new double[0] : KernelSupport.segment(rstd).asSlice(off(rstd) * 8, p.rows() * 8L).toArray(ValueLayout.JAVA_DOUBLE);
            if (t == DType.F32) {
                GatedRmsNormCpu.backward(seg(x), off(x), seg(p.z()), off(p.z()), p.zStride(), seg(sig), off(sig), seg(p.w()), off(p.w()), seg(dy),
                        off(dy), rs, seg(dx), off(dx), seg(dz), off(dz), dzStride, seg(dw), off(dw), p.rows(), p.d());
            } else {
                GatedRmsNormReference.backward(seg(x), off(x), seg(p.z()), off(p.z()), p.zStride(), seg(p.w()), off(p.w()), seg(dy), off(dy),
                        rs, seg(dx), off(dx), seg(dz), off(dz), dzStride, seg(dw), off(dw), p.rows(), p.d());
            }
        }
        return new Tensor[] {dx, dz, dw};
    }

    /** x and w contiguous; z as [rows, d] read in place when its rows are evenly spaced with contiguous values, else copied. */
    private static Rows rows(Tensor x, Tensor z, Tensor w, int rows, int d) {
        Tensor x2 = x.contiguous().reshape(rows, d);
        Tensor z2 = z.dim() == 1 ? z.contiguous().reshape(1, d) : z;
        long stride = KernelSupport.rowStride(z2, z2.dim() - 1);
        if (stride < 0) {
            z2 = z.contiguous();
            stride = d;
        }
        if (z2.dim() != 2) z2 = z2.reshape(rows, d); // rows evenly spaced: merging the leading dimensions is a view
        return new Rows(x2, z2, stride, w.contiguous(), rows, d);
    }

    private static java.lang.foreign.MemorySegment seg(Tensor t) { return KernelSupport.segment(t); }

    private static long off(Tensor t) { return KernelSupport.offset(t); }
}
