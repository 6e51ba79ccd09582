package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;

/**
 * Row softmax and log-softmax over contiguous [rows, n] F32 or F64 operands, forward and backward,
 * parallel over rows. The max is subtracted first, so large logits never overflow.
 */
public final class SoftmaxKernel {
    private SoftmaxKernel() {}

    public static void forward(Operand x, Operand out, int rows, int n, boolean log) {
        CpuInfo.logOnce();
        CpuPool.parallelFor(rows, Math.max(1, (1 << 14) / Math.max(1, n)), (s, e) -> {
            for (long r = s; r < e; r++) {
                long xo = x.offset() + r * n, oo = out.offset() + r * n;
                if (x.dtype() == DType.F32 && CpuInfo.VECTOR) VectorSoftmax.row(x.seg(), xo, out.seg(), oo, n, log);
                else scalarRow(x.seg(), x.dtype(), xo, out.seg(), oo, n, log);
            }
        });
    }

    private static void scalarRow(MemorySegment x, DType dt, long xo, MemorySegment o, long oo, int n, boolean log) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, Elements.get(x, dt, xo + i));
        if (max == Double.NEGATIVE_INFINITY) { // a fully masked row: softmax 0, log-softmax -inf
            for (int i = 0; i < n; i++) Elements.set(o, dt, oo + i, log ? Double.NEGATIVE_INFINITY : 0);
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(Elements.get(x, dt, xo + i) - max);
        double lse = max + Math.log(sum);
        for (int i = 0; i < n; i++) {
            double v = Elements.get(x, dt, xo + i);
            Elements.set(o, dt, oo + i, log ? v - lse : Math.exp(v - lse));
        }
    }

    /**
     * softmax: dx = y ⊙ (dy − Σ dy⊙y); log-softmax: dx = dy − exp(y) Σ dy.
     */
    public static void backward(Operand y, Operand dy, Operand dx, int rows, int n, boolean log) {
        DType dt = y.dtype();
        CpuPool.parallelFor(rows, Math.max(1, (1 << 14) / Math.max(1, n)), (s, e) -> {
            for (long r = s; r < e; r++) {
                long yo = y.offset() + r * n, go = dy.offset() + r * n, xo = dx.offset() + r * n;
                double acc = 0;
                for (int i = 0; i < n; i++) {
                    double g = Elements.get(dy.seg(), dt, go + i);
                    acc += log ? g : g * Elements.get(y.seg(), dt, yo + i);
                }
                for (int i = 0; i < n; i++) {
                    double yv = Elements.get(y.seg(), dt, yo + i), g = Elements.get(dy.seg(), dt, go + i);
                    double v = log ? g - Math.exp(yv) * acc : yv * (g - acc);
                    Elements.set(dx.seg(), dt, xo + i, v);
                }
            }
        });
    }
}
