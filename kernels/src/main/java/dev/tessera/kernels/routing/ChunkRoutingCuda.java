package dev.tessera.kernels.routing;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;

/**
 * Launches native/cuda/kernels/chunk_routing.cu on contiguous CUDA tensors (F32, F64, BF16). The ops
 * ({@link RouteOp}, {@link ChunkOp}, {@link DechunkOp}, {@link RoutingState}) allocate the outputs and call these.
 *
 * <p>Index tensors shared between kernels: {@code index} [B, L] I64 = cumsum(b); {@code of} [B, L] I32, the chunk a
 * position shows (−1 before the first chunk of its sequence); {@code pos} [B, cap] I32, each chunk's boundary
 * position with bit 31 set on the first chunk of a sequence; {@code counts} [B] I64 chunks per row.
 */
final class ChunkRoutingCuda {
    private static final String MODULE = "chunk_routing";
    private static final int THREADS = 256, WARPS = THREADS / 32;
    /** Fewest chunks per EMA segment: with M ≤ this the dechunk EMA is one sequential pass, bit for bit the step form. */
    static final int MIN_SEGMENT = 64;

    private ChunkRoutingCuda() {}

    /** The dtypes with CUDA kernels here. */
    static boolean supports(DType t) { return t == DType.F32 || t == DType.F64 || t == DType.BF16; }

    static CudaDevice device(Tensor t) { return CudaDevice.get(t.device().index()); }

    private static String fn(String base, DType t) { return base + "_" + CudaLayout.suffix(t); }

    /** Bytes of the accumulator type (double for F64, float otherwise). */
    static int accBytes(DType t) { return t == DType.F64 ? 8 : 4; }

    private static String accSuffix(DType t) { return t == DType.F64 ? "acc64" : "acc32"; }

    /** Blocks for a grid-stride loop of one warp per item. */
    private static int warpBlocks(CudaDevice d, long items) {
        return (int) Math.max(1, Math.min((items + WARPS - 1) / WARPS, 16L * d.multiprocessorCount()));
    }

    /** Threads per block for a loop of one thread per channel. */
    private static int channelThreads(int d) { return Math.min(THREADS, Math.max(32, (d + 31) / 32 * 32)); }

    private static long address(DeviceBuffer b) { return b == null ? 0 : b.address(); }

    /** A tensor's device address, or 0 (null in the kernel) for none or an empty tensor. */
    private static long address(Tensor t) { return t == null || t.numel() == 0 ? 0 : t.deviceAddress(); }

    /** The layout's flags on the device, or null for plain rows (the kernels then treat t = 0 as the only start). */
    static DeviceBuffer flags(CudaDevice d, Layout layout) {
        int n = layout.flags.length;
        if (layout.plain || n == 0) return null;
        DeviceBuffer b = d.temporary(n);
        d.copyToDevice(MemorySegment.ofArray(layout.flags), 0, b.address(), n);
        return b;
    }

    /**
     * The layout's flags as a U8 tensor on {@code dev} (one upload), or null for plain rows: for an op whose backward
     * reads them again, which then keeps the tensor instead of uploading the flags a second time.
     */
    static Tensor flagsTensor(dev.tessera.runtime.Device dev, Layout layout) {
        int n = layout.flags.length;
        if (layout.plain || n == 0) return null;
        Tensor t = KernelSupport.allocate(DType.U8, new int[] {n}, dev);
        CudaDevice.get(dev.index()).copyToDevice(MemorySegment.ofArray(layout.flags), 0, t.deviceAddress(), n);
        return t;
    }

    /** Copies a small device tensor of int64 to the host (synchronises: the caller needs the values now). */
    static long[] readLongs(Tensor t) {
        long[] out = new long[(int) t.numel()];
        if (out.length > 0) device(t).copyToHost(t.deviceAddress(), MemorySegment.ofArray(out), 0, 8L * out.length);
        return out;
    }

    /** Copies a small device BOOL/U8 tensor to the host (synchronises). */
    static byte[] readBytes(Tensor t) {
        byte[] out = new byte[(int) t.numel()];
        if (out.length > 0) device(t).copyToHost(t.deviceAddress(), MemorySegment.ofArray(out), 0, out.length);
        return out;
    }

    // ------------------------------------------------------------------ route

    /** p, b, c [B, L] from q, k [B, L, D] (contiguous); {@code flags} from {@link #flagsTensor} (null: plain rows). */
    static void routeForward(Tensor q, Tensor k, Layout layout, Tensor flags, int d, Tensor p, Tensor b, Tensor c) {
        long n = (long) layout.batch * layout.length;
        if (n == 0) return;
        CudaDevice dev = device(q);
        dev.kernel(FusedPtx.SOURCE, MODULE, fn("route_forward", q.dtype())).grid(warpBlocks(dev, n)).block(THREADS)
                .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(address(flags)).ptr(p.deviceAddress()).ptr(b.deviceAddress())
                .ptr(c.deviceAddress()).i64(layout.batch).i64(layout.length).i64(d).launch();
    }

    /** dq, dk [B, L, D] (every element written) from dp [B, L] (all contiguous); {@code flags} as for the forward. */
    static void routeBackward(Tensor q, Tensor k, Layout layout, Tensor flags, int d, Tensor dp, Tensor dq, Tensor dk) {
        long n = (long) layout.batch * layout.length;
        if (n == 0 || d == 0) return;
        CudaDevice dev = device(q);
        dev.kernel(FusedPtx.SOURCE, MODULE, fn("route_backward", q.dtype())).grid(warpBlocks(dev, n)).block(THREADS)
                .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(address(flags)).ptr(dp.deviceAddress()).ptr(dq.deviceAddress())
                .ptr(dk.deviceAddress()).i64(layout.batch).i64(layout.length).i64(d).launch();
    }

    // ------------------------------------------------------------------ scan and chunk

    /**
     * One CTA per row over b [B, L] (BOOL, contiguous): index, of, pos (capacity {@code cap} chunks per row) and
     * counts, each optional (null). {@code flags} (may be null) marks the sequence starts where the EMA restarts.
     */
    static void scan(Tensor b, DeviceBuffer flags, int rows, int len, long cap, Tensor index, Tensor of, Tensor pos, Tensor counts) {
        if (rows == 0 || len == 0) return; // counts stay 0 (fresh tensors are zero-filled)
        CudaDevice dev = device(b);
        dev.kernel(FusedPtx.SOURCE, MODULE, "chunk_scan").grid(rows).block(THREADS)
                .ptr(b.deviceAddress()).ptr(address(flags)).i64(len).i64(cap).ptr(address(index)).ptr(address(of)).ptr(address(pos))
                .ptr(address(counts)).launch();
    }

    /**
     * Row copies of {@code rowBytes} bytes. Forward ({@code backward} false): y [B, M] rows ← x rows at the chunks'
     * positions (zero past each row's count). Backward: dx [B, L] rows ← dy [B, M] row index − 1 where b, else zero.
     */
    static void copyRows(Tensor src, Tensor dst, long rowBytes, boolean backward, int rows, int len, int m, Tensor pos, Tensor counts,
                         Tensor b, Tensor index) {
        long n = (long) rows * (backward ? len : m);
        if (n == 0 || rowBytes == 0) return;
        CudaDevice dev = device(dst);
        dev.kernel(FusedPtx.SOURCE, MODULE, "chunk_copy_rows").grid(warpBlocks(dev, n)).block(THREADS)
                .ptr(address(src)).ptr(dst.deviceAddress()).i64(n).i64(rowBytes).i32(backward ? 1 : 0).i64(len).i64(m)
                .i64(backward ? 0 : len).ptr(address(pos)).ptr(address(counts)).ptr(address(b)).ptr(address(index)).launch();
    }

    /** lengths [S], offsets [S+1] (I64) and mask [B, M] (BOOL) of {@link Chunks}; {@code cu} null for padded rows. */
    static void chunkMeta(Tensor index, Tensor counts, long[] cu, int seqs, int rows, int m, Tensor lengths, Tensor offsets, Tensor mask) {
        CudaDevice dev = device(index);
        long n = Math.max((long) rows * m, seqs);
        int blocks = (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 4L * dev.multiprocessorCount()));
        try (DeviceBuffer cuBuf = cu == null ? null : dev.upload(cu)) {
            dev.kernel(FusedPtx.SOURCE, MODULE, "chunk_meta").grid(blocks).block(THREADS)
                    .ptr(address(index)).ptr(address(counts)).ptr(address(cuBuf)).i64(seqs).i64(rows).i64(m)
                    .ptr(address(lengths)).ptr(address(offsets)).ptr(address(mask)).launch();
        }
    }

    // ------------------------------------------------------------------ dechunk

    /**
     * Chunks per EMA segment: at least {@link #MIN_SEGMENT}, more when B·D alone fills the device (the segments only
     * add parallelism for the recurrence over chunks).
     */
    static int segment(CudaDevice dev, int m, int rows, int d) {
        long threadsWanted = 4096L * dev.multiprocessorCount();
        long perSegment = Math.max(1L, (long) rows * d);
        long segments = Math.max(1, (threadsWanted + perSegment - 1) / perSegment);
        long seg = Math.max(MIN_SEGMENT, (m + segments - 1) / segments);
        // gridDim.y caps the number of segments.
        seg = Math.max(seg, (m + 65534L) / 65535L);
        return (int) Math.min(Integer.MAX_VALUE, seg);
    }

    private static int segments(int m, int seg) { return Math.max(1, (m + seg - 1) / seg); }

    private static void checkGrid(int rows) {
        if (rows > 65535) throw new IllegalArgumentException("dechunk on CUDA: at most 65535 rows per call, got B = " + rows);
    }

    /**
     * out [B, L, D] and, when not null, z̄ [B, M, D] from ẑ [B, M, D] and p [B, L] (contiguous), with of, pos,
     * counts from {@link #scan}. Positions that show no chunk get 0; every element of out is written.
     */
    static void dechunkForward(Tensor zhat, Tensor p, Tensor of, Tensor pos, Tensor counts, int rows, int len, int m, int d, Tensor out,
                               Tensor zbar) {
        if ((long) rows * len == 0 || d == 0 || m == 0) return; // m = 0: no chunks, out stays zero
        checkGrid(rows);
        DType dt = zhat.dtype();
        CudaDevice dev = device(zhat);
        int acc = accBytes(dt), seg = segment(dev, m, rows, d), segs = segments(m, seg), tc = channelThreads(d);
        int cblocks = (d + tc - 1) / tc;
        try (DeviceBuffer local = dev.temporary((long) acc * rows * m * d); DeviceBuffer cumA = dev.temporary((long) acc * rows * m);
             DeviceBuffer carry = dev.temporary((long) acc * rows * segs * d)) {
            dev.kernel(FusedPtx.SOURCE, MODULE, fn("dechunk_local", dt)).grid(cblocks, segs, rows).block(tc)
                    .ptr(zhat.deviceAddress()).ptr(p.deviceAddress()).ptr(pos.deviceAddress()).ptr(counts.deviceAddress())
                    .i64(len).i64(m).i64(d).i64(seg).ptr(local.address()).ptr(cumA.address()).launch();
            dev.kernel(FusedPtx.SOURCE, MODULE, "dechunk_carry_" + accSuffix(dt)).grid(cblocks, rows, 1).block(tc)
                    .ptr(local.address()).ptr(cumA.address()).ptr(counts.deviceAddress()).i64(m).i64(d).i64(seg).i64(segs)
                    .ptr(carry.address()).launch();
            dev.kernel(FusedPtx.SOURCE, MODULE, fn("dechunk_upsample", dt)).grid(warpBlocks(dev, (long) rows * len)).block(THREADS)
                    .ptr(local.address()).ptr(cumA.address()).ptr(carry.address()).ptr(of.deviceAddress()).ptr(pos.deviceAddress())
                    .i64(rows).i64(len).i64(m).i64(d).i64(seg).i64(segs).ptr(out.deviceAddress()).ptr(address(zbar)).launch();
        }
    }

    /**
     * dẑ [B, M, D] (every element written), dp and dc [B, L] (fresh, zero-filled) from dout [B, L, D]; ẑ, z̄, p and
     * the scan's of, pos, counts as saved by the forward.
     */
    static void dechunkBackward(Tensor zhat, Tensor p, Tensor zbar, Tensor of, Tensor pos, Tensor counts, Tensor dout, int rows, int len,
                                int m, int d, Tensor dzhat, Tensor dp, Tensor dc) {
        if ((long) rows * m == 0 || d == 0) return;
        checkGrid(rows);
        DType dt = zhat.dtype();
        CudaDevice dev = device(zhat);
        int acc = accBytes(dt), seg = segment(dev, m, rows, d), segs = segments(m, seg), tc = channelThreads(d);
        int cblocks = (d + tc - 1) / tc;
        try (DeviceBuffer gsum = dev.temporary((long) acc * rows * m * d); DeviceBuffer cumR = dev.temporary((long) acc * rows * m);
             DeviceBuffer carry = dev.temporary((long) acc * rows * segs * d)) {
            if (len > 0) {
                dev.kernel(FusedPtx.SOURCE, MODULE, fn("dechunk_bwd_gather", dt)).grid(warpBlocks(dev, (long) rows * m)).block(THREADS)
                        .ptr(dout.deviceAddress()).ptr(zbar.deviceAddress()).ptr(of.deviceAddress()).ptr(pos.deviceAddress())
                        .ptr(counts.deviceAddress()).i64(rows).i64(len).i64(m).i64(d).ptr(gsum.address()).ptr(dc.deviceAddress()).launch();
                dev.kernel(FusedPtx.SOURCE, MODULE, fn("dechunk_bwd_local", dt)).grid(cblocks, segs, rows).block(tc)
                        .ptr(p.deviceAddress()).ptr(pos.deviceAddress()).ptr(counts.deviceAddress()).i64(len).i64(m).i64(d).i64(seg)
                        .ptr(gsum.address()).ptr(cumR.address()).launch();
                dev.kernel(FusedPtx.SOURCE, MODULE, "dechunk_bwd_carry_" + accSuffix(dt)).grid(cblocks, rows, 1).block(tc)
                        .ptr(gsum.address()).ptr(cumR.address()).ptr(counts.deviceAddress()).i64(m).i64(d).i64(seg).i64(segs)
                        .ptr(carry.address()).launch();
            }
            dev.kernel(FusedPtx.SOURCE, MODULE, fn("dechunk_bwd_final", dt)).grid(warpBlocks(dev, (long) rows * m)).block(THREADS)
                    .ptr(gsum.address()).ptr(cumR.address()).ptr(carry.address()).ptr(zhat.deviceAddress()).ptr(zbar.deviceAddress())
                    .ptr(p.deviceAddress()).ptr(pos.deviceAddress()).ptr(counts.deviceAddress()).i64(rows).i64(len).i64(m).i64(d)
                    .i64(seg).i64(segs).ptr(dzhat.deviceAddress()).ptr(dp.deviceAddress()).launch();
        }
    }

    // ------------------------------------------------------------------ step

    /** One route step for B rows: p, b, c [B] and pState [B]; updates qPrev [B, D] and seen [B] (all on the device). */
    static void routeStep(Tensor q, Tensor k, Tensor qPrev, Tensor seen, Tensor p, Tensor b, Tensor c, Tensor pState, int rows, int d) {
        CudaDevice dev = device(q);
        dev.kernel(FusedPtx.SOURCE, MODULE, fn("route_step", q.dtype())).grid(warpBlocks(dev, rows)).block(THREADS)
                .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(qPrev.deviceAddress()).ptr(seen.deviceAddress()).ptr(p.deviceAddress())
                .ptr(b.deviceAddress()).ptr(c.deviceAddress()).ptr(pState.deviceAddress()).i64(rows).i64(d).launch();
    }

    /** One dechunk step: rows with slot[r] = j ≥ 0 take ẑ row j into z̄ (accumulator type); out [B, D] = z̄. */
    static void dechunkStep(Tensor zhat, int[] slot, Tensor pState, Tensor zbar, Tensor out, int rows, int d, DType dt) {
        CudaDevice dev = device(out);
        try (DeviceBuffer slots = dev.upload(slot)) {
            dev.kernel(FusedPtx.SOURCE, MODULE, fn("dechunk_step", dt)).grid(warpBlocks(dev, rows)).block(THREADS)
                    .ptr(address(zhat)).ptr(slots.address()).ptr(pState.deviceAddress()).ptr(zbar.deviceAddress()).ptr(out.deviceAddress())
                    .i64(rows).i64(d).launch();
        }
    }
}
