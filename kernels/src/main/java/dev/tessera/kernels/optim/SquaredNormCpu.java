package dev.tessera.kernels.optim;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The CPU Σ x²: blocks of {@link #BLOCK} elements summed in F64 in parallel, then the blocks' sums added in order, so
 * the result does not depend on the number of threads.
 */
final class SquaredNormCpu {
    static final int BLOCK = 1 << 16;

    private SquaredNormCpu() {}

    static double sum(List<Tensor> tensors) {
        double total = 0;
        for (Tensor t : tensors) {
            try (Scope s = Scope.open()) {
                DType type = t.dtype() == DType.F64 ? DType.F64 : DType.F32; // half precisions are read as F32
                Tensor c = t.dtype() == type && t.isContiguous() ? t : t.to(type).contiguous();
                total += sum(KernelSupport.segment(c), KernelSupport.offset(c), c.numel(), type == DType.F64);
            }
        }
        return total;
    }

    private static double sum(MemorySegment x, long off, long n, boolean f64) {
        int blocks = (int) ((n + BLOCK - 1) / BLOCK);
        double[] partial = new double[blocks];
        KernelSupport.parallelFor(blocks, 1, (s, e) -> {
            for (long b = s; b < e; b++) {
                long from = b * BLOCK, to = Math.min(n, from + BLOCK);
                double acc = 0;
                if (f64) {
                    for (long i = from; i < to; i++) {
                        double v = x.getAtIndex(ValueLayout.JAVA_DOUBLE, off + i);
                        acc += v * v;
                    }
                } else {
                    for (long i = from; i < to; i++) {
                        double v = x.getAtIndex(ValueLayout.JAVA_FLOAT, off + i);
                        acc += v * v;
                    }
                }
                partial[(int) b] = acc;
            }
        });
        double total = 0;
        for (double p : partial) total += p;
        return total;
    }
}
