package dev.tessera.kernels;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Fused SwiGLU activation, the worked example of how a kernel is added.
 *
 * <p>Math: for {@code x} of shape [..., 2F] split into {@code u = x[..., :F]} and {@code g = x[..., F:]} (in that
 * order, as the H-Net MLP's fc1 output), {@code y = u · SiLU(g)} of shape [..., F], with SiLU(g) = g·σ(g).
 * Gradients: {@code du = dy · SiLU(g)}, {@code dg = dy · u · σ(g)·(1 + g·(1 − σ(g)))}.
 *
 * <p>One pass over memory instead of the four an unfused composition makes (split, sigmoid, two products).
 */
public final class SwiGlu {
    private SwiGlu() {}

    /** y = u · SiLU(g) for x = [u | g] along the last dimension. */
    public static Tensor apply(Tensor x) {
        int r = x.dim();
        if (r < 1 || x.size(-1) % 2 != 0) {
            throw new IllegalArgumentException("swiglu: the last dimension must be even (u and g halves), got shape "
                    + java.util.Arrays.toString(x.shape()));
        }
        if (x.dtype() != DType.F32 && x.dtype() != DType.F64) {
            throw new IllegalArgumentException("swiglu: F32 or F64 on the CPU, got " + x.dtype());
        }
        int f = x.size(-1) / 2;
        int rows = (int) (x.numel() / (2L * f));
        int[] outShape = x.shape();
        outShape[r - 1] = f;
        Tensor xc = x.contiguous();
        Tensor y = KernelSupport.allocate(x.dtype(), outShape, x.device());
        forward(KernelSupport.segment(xc), KernelSupport.offset(xc), KernelSupport.segment(y), x.dtype(), rows, f);
        return KernelSupport.record("swiglu", y, new Tensor[] {x}, new Tensor[] {xc}, (dy, saved) -> {
            Tensor xs = saved[0];
            Tensor dyc = dy.contiguous();
            Tensor dx = KernelSupport.allocate(xs.dtype(), xs.shape(), xs.device());
            backward(KernelSupport.segment(xs), KernelSupport.offset(xs), KernelSupport.segment(dyc), KernelSupport.offset(dyc),
                    KernelSupport.segment(dx), xs.dtype(), rows, f);
            return new Tensor[] {dx};
        });
    }

    private static double get(MemorySegment m, DType t, long i) {
        return t == DType.F32 ? m.getAtIndex(ValueLayout.JAVA_FLOAT, i) : m.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
    }

    private static void set(MemorySegment m, DType t, long i, double v) {
        if (t == DType.F32) m.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
        else m.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
    }

    private static double sigmoid(double v) { return 1 / (1 + Math.exp(-v)); }

    static void forward(MemorySegment x, long xOff, MemorySegment y, DType t, int rows, int f) {
        KernelSupport.parallelFor(rows, Math.max(1, 8192 / f), (s, e) -> {
            for (long r = s; r < e; r++) {
                long xr = xOff + r * 2 * f, yr = r * f;
                for (int i = 0; i < f; i++) {
                    double u = get(x, t, xr + i), g = get(x, t, xr + f + i);
                    set(y, t, yr + i, u * g * sigmoid(g));
                }
            }
        });
    }

    static void backward(MemorySegment x, long xOff, MemorySegment dy, long dyOff, MemorySegment dx, DType t, int rows, int f) {
        KernelSupport.parallelFor(rows, Math.max(1, 8192 / f), (s, e) -> {
            for (long r = s; r < e; r++) {
                long xr = xOff + r * 2 * f, gr = dyOff + r * f, dr = r * 2 * f;
                for (int i = 0; i < f; i++) {
                    double u = get(x, t, xr + i), g = get(x, t, xr + f + i), d = get(dy, t, gr + i);
                    double sg = sigmoid(g);
                    set(dx, t, dr + i, d * g * sg);
                    set(dx, t, dr + f + i, d * u * sg * (1 + g * (1 - sg)));
                }
            }
        });
    }
}
