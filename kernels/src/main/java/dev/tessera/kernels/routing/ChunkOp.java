package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;

/**
 * Chunk with autograd: on CUDA one scan per row and row copies on the device ({@link #applyCuda}); on the CPU row
 * copies for F32 (and any other dtype), the reference for F64.
 */
final class ChunkOp {
    private ChunkOp() {}

    /** {@code cu} is the packed sequences' offsets (then B = 1), or null when each row is one sequence. */
    static Chunks apply(Tensor x, Tensor b, long[] cu) {
        if (!x.device().isCpu()) return applyCuda(x, b, cu);
        int nb = x.size(0), len = x.size(1), d = x.size(2);
        byte[] bits = ChunkKernel.bytes(b);
        long[] index = ChunkKernel.prefixSum(bits, nb, len);
        int m = ChunkKernel.maxCount(index, nb, len);
        Tensor xc = x.contiguous();
        Tensor y;
        if (x.dtype() == DType.F64) {
            y = NestedArrays.tensor(ChunkRoutingReference.chunk(NestedArrays.rank3(xc), NestedArrays.bools(b), d), d, DType.F64);
            if (y.size(1) != m) throw new IllegalStateException("internal: reference chunk count " + y.size(1) + " != " + m);
        } else {
            y = KernelSupport.allocate(x.dtype(), new int[] {nb, m, d}, x.device());
            long profiled = KernelSupport.profileStart();
            ChunkKernel.copyRows(KernelSupport.segment(xc), KernelSupport.offset(xc), KernelSupport.segment(y), bits, index, len, m, d,
                    x.dtype().byteSize(), false);
            KernelSupport.profileStop("chunk", profiled);
        }
        int[] xShape = x.shape();
        DType dt = x.dtype();
        y = KernelSupport.record("chunk", y, new Tensor[] {x}, new Tensor[0], (dy, s) -> {
            Tensor g = dy.to(dt).contiguous();
            if (g.dtype() == DType.F64) {
                boolean[][] bb = new boolean[nb][len];
                for (int i = 0; i < bits.length; i++) bb[i / len][i % len] = bits[i] != 0;
                return new Tensor[] {NestedArrays.tensor(ChunkRoutingReference.chunkBackward(NestedArrays.rank3(g), bb, d), d, DType.F64)};
            }
            Tensor dx = KernelSupport.allocate(g.dtype(), xShape, g.device());
            ChunkKernel.copyRows(KernelSupport.segment(g), KernelSupport.offset(g), KernelSupport.segment(dx), bits, index, len, m, d,
                    g.dtype().byteSize(), true);
            return new Tensor[] {dx};
        });
        long[] lengths;
        if (cu == null) {
            lengths = new long[nb];
            for (int r = 0; r < nb; r++) lengths[r] = len == 0 ? 0 : index[r * len + len - 1];
        } else {
            lengths = new long[cu.length - 1];
            for (int s = 0; s < lengths.length; s++) {
                lengths[s] = (cu[s + 1] == 0 ? 0 : index[(int) cu[s + 1] - 1]) - (cu[s] == 0 ? 0 : index[(int) cu[s] - 1]);
            }
        }
        long[] offsets = new long[lengths.length + 1];
        for (int s = 0; s < lengths.length; s++) offsets[s + 1] = offsets[s] + lengths[s];
        boolean[] mask = new boolean[nb * m];
        for (int r = 0; r < nb; r++) {
            long real = cu == null ? lengths[r] : m;
            for (int j = 0; j < real; j++) mask[r * m + j] = true;
        }
        long[] perRow = new long[nb];
        for (int r = 0; r < nb; r++) perRow[r] = len == 0 ? 0 : index[r * len + len - 1];
        return new Chunks(y, Tensor.of(mask, nb, m), Tensor.of(lengths, lengths.length), Tensor.of(offsets, offsets.length),
                Tensor.of(index, nb, len), b, perRow);
    }

    /**
     * The CUDA chunk: the scan gives index, the chunks' positions and the per-row counts; the counts are read back
     * once (the only host synchronisation of the call: they size the output [B, M, D]); everything returned lives
     * on x's device.
     */
    private static Chunks applyCuda(Tensor x, Tensor b, long[] cu) {
        int nb = x.size(0), len = x.size(1), d = x.size(2);
        DType dt = x.dtype();
        var dev = x.device();
        Tensor xc = x.contiguous(), bc = b.contiguous();
        Tensor index = KernelSupport.allocate(DType.I64, new int[] {nb, len}, dev);
        Tensor counts = KernelSupport.allocate(DType.I64, new int[] {nb}, dev);
        Tensor pos = KernelSupport.allocate(DType.I32, new int[] {nb, Math.max(1, len)}, dev);
        long profiled = KernelSupport.profileStart();
        ChunkRoutingCuda.scan(bc, null, nb, len, len, index, null, pos, counts);
        long[] perRow = ChunkRoutingCuda.readLongs(counts); // the one read-back: M sizes the output
        long most = 0;
        for (long v : perRow) most = Math.max(most, v);
        int m = (int) most;
        long rowBytes = (long) d * dt.byteSize();
        Tensor y = KernelSupport.allocate(dt, new int[] {nb, m, d}, dev);
        ChunkRoutingCuda.copyRows(xc, y, rowBytes, false, nb, len, m, pos, counts, null, null);
        KernelSupport.profileStop("chunk", profiled);
        int[] xShape = x.shape();
        y = KernelSupport.record("chunk", y, new Tensor[] {x}, new Tensor[] {index, bc}, (dy, s) -> {
            Tensor g = dy.to(dt).contiguous();
            Tensor dx = KernelSupport.allocate(dt, xShape, g.device());
            ChunkRoutingCuda.copyRows(g, dx, rowBytes, true, nb, len, m, null, null, s[1], s[0]);
            return new Tensor[] {dx};
        });
        int seqs = cu == null ? nb : cu.length - 1;
        Tensor lengths = KernelSupport.allocate(DType.I64, new int[] {seqs}, dev);
        Tensor offsets = KernelSupport.allocate(DType.I64, new int[] {seqs + 1}, dev);
        Tensor mask = KernelSupport.allocate(DType.BOOL, new int[] {nb, m}, dev);
        ChunkRoutingCuda.chunkMeta(index, counts, cu, seqs, nb, m, lengths, offsets, mask);
        return new Chunks(y, mask, lengths, offsets, index, b, perRow);
    }
}
