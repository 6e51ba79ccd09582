package dev.tessera.kernels.conv;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The readable form of {@link CausalConvStep} on F32 or F64 CPU tensors, accumulating in double from the bias in
 * tap order with a separate multiply and add per tap, as the runtime's scalar convolution does: F64 runs it (and F32
 * without the Vector API), and the tests check the other paths against it.
 */
final class CausalConvStepReference {
    private CausalConvStepReference() {}

    static void run(Tensor state, Tensor x, long xRow, Tensor w, Tensor bias, Tensor y, int batch, int ch, int k) {
        double[] s = read(state, 0, 1, (long) batch * (k - 1) * ch), xv = read(x, xRow, batch, ch), wv = read(w, 0, 1, (long) ch * k);
        double[] bv = bias == null ? new double[ch] : read(bias, 0, 1, ch);
        double[] out = new double[batch * ch];
        for (int b = 0; b < batch; b++) {
            for (int c = 0; c < ch; c++) {
                double acc = bv[c];
                for (int j = 0; j < k - 1; j++) acc += wv[c * k + j] * s[(b * (k - 1) + j) * ch + c];
                out[b * ch + c] = acc + wv[c * k + k - 1] * xv[b * ch + c];
            }
            for (int j = 0; j + 1 < k - 1; j++) System.arraycopy(s, (b * (k - 1) + j + 1) * ch, s, (b * (k - 1) + j) * ch, ch);
            System.arraycopy(xv, b * ch, s, (b * (k - 1) + k - 2) * ch, ch);
        }
        write(y, out);
        write(state, s);
    }

    /** {@code rows} rows of {@code n} values of t, {@code rowStride} elements apart (contiguous when rows is 1). */
    private static double[] read(Tensor t, long rowStride, int rows, long n) {
        MemorySegment seg = KernelSupport.segment(t);
        long off = KernelSupport.offset(t);
        double[] out = new double[(int) (rows * n)];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < n; i++) {
                long at = off + r * rowStride + i;
                out[(int) (r * n + i)] = t.dtype() == DType.F64 ? seg.getAtIndex(ValueLayout.JAVA_DOUBLE, at) : seg.getAtIndex(ValueLayout.JAVA_FLOAT, at);
            }
        }
        return out;
    }

    /** Writes v over contiguous t, rounded to t's dtype. */
    private static void write(Tensor t, double[] v) {
        MemorySegment seg = KernelSupport.segment(t);
        long off = KernelSupport.offset(t);
        for (int i = 0; i < v.length; i++) {
            if (t.dtype() == DType.F64) seg.setAtIndex(ValueLayout.JAVA_DOUBLE, off + i, v[i]);
            else seg.setAtIndex(ValueLayout.JAVA_FLOAT, off + i, (float) v[i]);
        }
    }
}
