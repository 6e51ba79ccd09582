package dev.tessera.kernels.conv;

import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The F32 step on the CPU: vectors across channels, the taps in order from the bias — the vector lanes with fused
 * multiply-adds and the channels past the last full vector with a multiply and an add, exactly as the runtime's F32
 * convolution computes each output — then the state's rows moved up by one and x written as its last.
 */
final class CausalConvStepCpu {
    private CausalConvStepCpu() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    static void run(Tensor state, Tensor x, long xRow, Tensor w, Tensor bias, Tensor y, int batch, int ch, int k) {
        // the taps as K rows of C (one bulk copy and a small transposition: C·K floats)
        float[] rows = new float[ch * k], wt = new float[k * ch], b0 = new float[ch];
        MemorySegment.copy(KernelSupport.segment(w), ValueLayout.JAVA_FLOAT, KernelSupport.offset(w) * 4, rows, 0, ch * k);
        for (int c = 0; c < ch; c++) for (int j = 0; j < k; j++) wt[j * ch + c] = rows[c * k + j];
        if (bias != null) MemorySegment.copy(KernelSupport.segment(bias), ValueLayout.JAVA_FLOAT, KernelSupport.offset(bias) * 4, b0, 0, ch);
        MemorySegment ss = KernelSupport.segment(state), xs = KernelSupport.segment(x), ys = KernelSupport.segment(y);
        long so = KernelSupport.offset(state), xo = KernelSupport.offset(x), yo = KernelSupport.offset(y);
        int l = S.length(), vn = ch - ch % l, taps = k - 1;
        for (int b = 0; b < batch; b++) {
            long sb = (so + (long) b * taps * ch) * 4, xb = (xo + b * xRow) * 4, yb = (yo + (long) b * ch) * 4;
            for (int c = 0; c < vn; c += l) {
                FloatVector acc = FloatVector.fromArray(S, b0, c);
                for (int j = 0; j < taps; j++) {
                    FloatVector sv = FloatVector.fromMemorySegment(S, ss, sb + ((long) j * ch + c) * 4, NO);
                    acc = FloatVector.fromArray(S, wt, j * ch + c).fma(sv, acc);
                }
                FloatVector xv = FloatVector.fromMemorySegment(S, xs, xb + c * 4L, NO);
                acc = FloatVector.fromArray(S, wt, taps * ch + c).fma(xv, acc);
                acc.intoMemorySegment(ys, yb + c * 4L, NO);
            }
            for (int c = vn; c < ch; c++) {
                float acc = b0[c];
                for (int j = 0; j < taps; j++) acc += wt[j * ch + c] * ss.get(ValueLayout.JAVA_FLOAT, sb + ((long) j * ch + c) * 4);
                acc += wt[taps * ch + c] * xs.get(ValueLayout.JAVA_FLOAT, xb + c * 4L);
                ys.set(ValueLayout.JAVA_FLOAT, yb + c * 4L, acc);
            }
            if (taps > 1) MemorySegment.copy(ss, sb + (long) ch * 4, ss, sb, (long) (taps - 1) * ch * 4); // overlapping: copy handles it
            MemorySegment.copy(xs, xb, ss, sb + (long) (taps - 1) * ch * 4, (long) ch * 4);
        }
    }
}
