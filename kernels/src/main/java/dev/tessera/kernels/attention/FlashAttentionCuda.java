package dev.tessera.kernels.attention;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;
import dev.tessera.runtime.cuda.KernelLaunch;
import dev.tessera.runtime.spi.KernelSupport;

/**
 * Launches native/cuda/kernels/flash_attention.cu on contiguous CUDA tensors (F32, F64, BF16).
 *
 * <p>Paths of the forward: {@link #decode} for one query per row without bias, existence or packed documents
 * (split over keys, then combined); {@link #forwardFast} (mma.sync tensor cores) for BF16 with head dim 48, 64, 96 or 128 and
 * no bias, window, existence or packed documents; {@link #forwardGeneral} for everything else. The backward is one
 * general kernel plus small pre- and post-passes. Logsumexp, key bias and log p live in the accumulation type
 * (F64 for F64, F32 otherwise).
 */
final class FlashAttentionCuda {
    private static final String MODULE = "flash_attention";
    private static final int THREADS = 128, MMA_ROWS = 64, DECODE_WARPS = 4, DEFAULT_SHARED = 48 * 1024;
    private static final double LOG2E = 1.4426950408889634;

    private FlashAttentionCuda() {}

    /** The accumulation type of a storage type: F64 for F64, F32 otherwise. */
    static DType accType(DType t) { return t == DType.F64 ? DType.F64 : DType.F32; }

    /** The tensor-core kernel applies: BF16, head dim 48, 64, 96 or 128, only causal and key-length masks. */
    static boolean fastEligible(Geometry g) {
        return g.dtype == DType.BF16 && fastShape(g);
    }

    /** The shape and options the tensor-core kernel takes, whatever the dtype. */
    static boolean fastShape(Geometry g) {
        return (g.headDim == 48 || g.headDim == 64 || g.headDim == 96 || g.headDim == 128) && g.biasHeads == 0
                && !g.existence && g.window < 0
                && g.docId == null;
    }

    /** Whether the forward in BF16 would run on tensor cores (the decode kernel takes one query per row first). */
    static boolean tensorCoresTakeBf16(Geometry g) {
        return fastShape(g) && !decodeEligible(g);
    }

    /** The decode kernel applies: one query per row, head dim ≤ 256, no bias, existence or packed documents. */
    static boolean decodeEligible(Geometry g) {
        return g.qLen == 1 && g.headDim <= 256 && g.biasHeads == 0 && !g.existence && g.docId == null;
    }

    /** Output and logsumexp into {@code out}, {@code lse} (zero-filled, on the device), by the best path. */
    static void forward(Geometry g, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor lpq, Tensor lpk, Tensor out, Tensor lse) {
        if (decodeEligible(g)) decode(g, q, k, v, g.kLen, out, lse);
        else if (fastEligible(g) && aligned16(q, k, v, out)) forwardFast(g, q, k, v, out, lse);
        else forwardGeneral(g, q, k, v, bias, lpq, lpk, out, lse);
    }

    /**
     * The tensor-core kernel copies rows with 16-byte cp.async and stores O as 4-byte pairs: a contiguous view whose
     * storage offset is not a multiple of 8 BF16 elements (a slice of a flat buffer) would fault there, so such
     * inputs take the general kernel instead.
     */
    private static boolean aligned16(Tensor... ts) {
        for (Tensor t : ts) if ((t.deviceAddress() & 15) != 0) return false;
        return true;
    }

    private static CudaDevice device(Tensor t) { return CudaDevice.get(t.device().index()); }

    private static long addr(Tensor t) { return t == null ? 0 : t.deviceAddress(); }

    private static long addr(DeviceBuffer b) { return b == null ? 0 : b.address(); }

    private static int ceilDiv(long a, long b) { return Math.toIntExact((a + b - 1) / b); }

    private static int gridFor(CudaDevice d, long n, int threads) {
        return (int) Math.max(1, Math.min((n + threads - 1) / threads, 32L * d.multiprocessorCount()));
    }

    private static String sfx(DType t) { return CudaLayout.suffix(t); }

    /**
     * The per-row key lengths on the device, or null when every row has all Lk keys (the kernels then read Lk): an
     * upload waits for the GPU, and training attends over full rows at every layer, forward and backward.
     */
    private static DeviceBuffer keyLengths(CudaDevice d, Geometry g) {
        for (int kl : g.keyLength) if (kl != g.kLen) return d.upload(g.keyLength);
        return null;
    }

    /** The per-row key lengths (null: all Lk) and packed-document bounds on the device. */
    private record Masks(DeviceBuffer keyLen, DeviceBuffer docStart, DeviceBuffer docEnd) implements AutoCloseable {
        static Masks of(CudaDevice d, Geometry g) {
            DeviceBuffer kl = keyLengths(d, g);
            if (g.docId == null) return new Masks(kl, null, null);
            return new Masks(kl, d.upload(g.docStart), d.upload(g.docEnd));
        }

        @Override public void close() {
            if (keyLen != null) keyLen.close();
            if (docStart != null) docStart.close();
            if (docEnd != null) docEnd.close();
        }
    }

    /** Appends the kernels' common geometry arguments (FA_GEO_PARAMS in the .cu). */
    private static KernelLaunch geo(KernelLaunch l, Geometry g, Masks m, Tensor bias, Tensor lpq, Tensor lpk) {
        return l.i32(g.batch).i32(g.qHeads).i32(g.kvHeads).i32(g.qLen).i32(g.kLen).i32(g.headDim).i32(g.causal ? 1 : 0).i32(g.window)
                .ptr(addr(m.keyLen)).ptr(addr(m.docStart)).ptr(addr(m.docEnd)).i32(g.biasHeads).ptr(addr(bias)).ptr(addr(lpq))
                .ptr(addr(lpk)).f64(ProbabilisticAttention.LOG_P_MIN).f64(g.scale);
    }

    static int forwardSharedBytes(int br, int bc, int p, int elem) {
        return elem * (br * p + bc * (p + 1) + bc * p + br * p + br * (bc + 1) + 3 * br) + 8 * br;
    }

    static int backwardSharedBytes(int br, int bc, int p, int elem) {
        return elem * (2 * bc * (p + 1) + 2 * bc * p + 2 * br * (p + 1) + 2 * br * (bc + 1) + 2 * br + 2 * bc) + 8 * br;
    }

    /** {tile, shared bytes}: the largest of 32, 16, 8 rows/keys per tile whose shared memory fits the device. */
    private static int[] tile(CudaDevice d, Geometry g, boolean backward) {
        int elem = accType(g.dtype).byteSize();
        for (int t = 32; t >= 8; t /= 2) {
            int bytes = backward ? backwardSharedBytes(t, t, g.headDim, elem) : forwardSharedBytes(t, t, g.headDim, elem);
            if (bytes <= d.maxSharedMemoryOptin()) return new int[] {t, bytes};
        }
        throw new IllegalArgumentException(Geometry.OP + ": head dim " + g.headDim + " in " + g.dtype + " needs more shared memory than "
                + d + " offers (" + d.maxSharedMemoryOptin() + " B per block)");
    }

    private static KernelLaunch launch(CudaDevice d, String fn, int sharedBytes) {
        if (sharedBytes > DEFAULT_SHARED) d.allowSharedMemory(FusedPtx.SOURCE, MODULE, fn, sharedBytes);
        return d.kernel(FusedPtx.SOURCE, MODULE, fn).sharedBytes(sharedBytes);
    }

    /** The general tiled forward: every option, any head dim that fits shared memory. */
    static void forwardGeneral(Geometry g, Tensor q, Tensor k, Tensor v, Tensor bias, Tensor lpq, Tensor lpk, Tensor out, Tensor lse) {
        CudaDevice d = device(q);
        int[] t = tile(d, g, false);
        try (Masks m = Masks.of(d, g)) {
            geo(launch(d, "fa_forward_" + sfx(g.dtype), t[1]).grid(ceilDiv(g.qLen, t[0]), g.qHeads, g.batch).block(THREADS), g, m, bias, lpq, lpk)
                    .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(v.deviceAddress()).ptr(out.deviceAddress()).ptr(lse.deviceAddress())
                    .i32(t[0]).i32(t[0]).launch();
        }
    }

    /** The tensor-core BF16 forward (see {@link #fastEligible}); lse is F32. */
    static void forwardFast(Geometry g, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse) {
        if (!fastEligible(g)) throw new IllegalArgumentException(Geometry.OP + ": the tensor-core path needs BF16, head dim 48, 64, 96 or 128 and no "
                + "bias, window, existence or cuSeqlens");
        if (!aligned16(q, k, v, out)) throw new IllegalArgumentException(Geometry.OP + ": the tensor-core path needs q, k, v and the output "
                + "16-byte aligned on the device");
        CudaDevice d = device(q);
        String fn = "fa_forward_mma" + g.headDim + "_bf16";
        int shared = 3 * MMA_ROWS * ((g.headDim + 63) / 64 * 64) * 2; // Q, K, V tiles, rows padded to 64 elements (see FaTileRow)
        try (DeviceBuffer kl = keyLengths(d, g)) {
            launch(d, fn, shared).grid(ceilDiv(g.qLen, MMA_ROWS), g.qHeads, g.batch).block(THREADS)
                    .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(v.deviceAddress()).ptr(out.deviceAddress()).ptr(lse.deviceAddress())
                    .i32(g.qHeads).i32(g.kvHeads).i32(g.qLen).i32(g.kLen).ptr(addr(kl)).i32(g.causal ? 1 : 0)
                    .f32((float) (g.scale * LOG2E)).launch();
        }
    }

    /**
     * One query per row (see {@link #decodeEligible}) over k, v whose head slices are {@code kvStride} positions apart
     * (Lk for contiguous tensors, the capacity for a KV cache's buffers); keys [keyLen − 1 − window, keyLen) of each row.
     */
    static void decode(Geometry g, Tensor q, Tensor k, Tensor v, long kvStride, Tensor out, Tensor lse) {
        if (!decodeEligible(g)) throw new IllegalArgumentException(Geometry.OP + ": the decode path needs Lq = 1, head dim ≤ 256 and no bias, "
                + "existence or cuSeqlens");
        CudaDevice d = device(q);
        int maxLen = 1;
        for (int x : g.keyLength) maxLen = Math.max(maxLen, x);
        int range = g.window >= 0 ? (int) Math.min(maxLen, g.window + 1L) : maxLen;
        int rows = g.batch * g.qHeads, elem = accType(g.dtype).byteSize(), p = g.headDim;
        int splits = Math.max(1, Math.min(ceilDiv(range, 64), ceilDiv(2L * d.multiprocessorCount(), rows)));
        int chunk = ceilDiv(range, splits);
        String s = sfx(g.dtype);
        // Rows of equal length (every row of a batch decoded from prompts of one length) upload no key lengths.
        try (DeviceBuffer kl = keyLengths(d, g); DeviceBuffer part = d.temporary((long) rows * splits * (p + 2) * elem)) {
            launch(d, "fa_decode_" + s, DECODE_WARPS * p * elem).grid(splits, g.qHeads, g.batch).block(32 * DECODE_WARPS)
                    .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(v.deviceAddress()).ptr(part.address())
                    .i32(g.qHeads).i32(g.kvHeads).i32(p).i64(kvStride).ptr(addr(kl)).i32(g.kLen).i32(g.window).f64(g.scale).i32(splits)
                    .i32(chunk).launch();
            d.kernel(FusedPtx.SOURCE, MODULE, "fa_decode_combine_" + s).grid(g.qHeads, g.batch, 1).block(THREADS)
                    .ptr(part.address()).ptr(out.deviceAddress()).ptr(lse.deviceAddress()).i32(g.qHeads).i32(p).i32(splits).launch();
        }
    }

    /**
     * Gradients of {q, k, v, keyBias, logpQ, logpK} from the saved {q, k, v, bias, lpq, lpk, out, lse}: dq, dk, dv in the
     * storage type, the rest in the accumulation type.
     */
    static Tensor[] backward(Geometry g, Tensor[] s, Tensor dOut) {
        Tensor q = s[0], k = s[1], v = s[2], bias = s[3], lpq = s[4], lpk = s[5], out = s[6], lse = s[7];
        CudaDevice d = device(q);
        DType acc = accType(g.dtype);
        int elem = acc.byteSize(), p = g.headDim;
        String sf = sfx(g.dtype), sa = sfx(acc);
        Tensor dO = dOut.to(g.dtype).to(q.device()).contiguous();
        Tensor dq = KernelSupport.allocate(g.dtype, q.shape(), q.device());
        Tensor dk = KernelSupport.allocate(g.dtype, k.shape(), k.device());
        Tensor dv = KernelSupport.allocate(g.dtype, v.shape(), v.device());
        long rowsQ = (long) g.batch * g.qHeads * g.qLen, colsK = (long) g.batch * g.qHeads * g.kLen;
        boolean direct = g.dtype == acc; // dq itself accumulates the atomics
        int[] t = tile(d, g, true);
        Tensor dBias = null, dLpq = null, dLpk = null;
        try (Masks m = Masks.of(d, g);
             DeviceBuffer dsum = d.temporary(rowsQ * elem);
             DeviceBuffer dqAcc = direct ? null : zeroed(d, rowsQ * p * elem);
             DeviceBuffer colSum = bias == null ? null : zeroed(d, colsK * elem);
             DeviceBuffer colAfter = g.existence ? zeroed(d, colsK * elem) : null;
             DeviceBuffer rowAfter = g.existence ? zeroed(d, rowsQ * elem) : null) {
            d.kernel(FusedPtx.SOURCE, MODULE, "fa_bwd_dot_" + sf).grid(gridFor(d, rowsQ * 32, 256)).block(256)
                    .ptr(out.deviceAddress()).ptr(dO.deviceAddress()).ptr(dsum.address()).i64(rowsQ).i32(p).launch();
            long dqAddr = direct ? dq.deviceAddress() : dqAcc.address();
            geo(launch(d, "fa_backward_" + sf, t[1]).grid(ceilDiv(g.kLen, t[0]), g.kvHeads, g.batch).block(THREADS), g, m, bias, lpq, lpk)
                    .ptr(q.deviceAddress()).ptr(k.deviceAddress()).ptr(v.deviceAddress()).ptr(dO.deviceAddress()).ptr(lse.deviceAddress())
                    .ptr(dsum.address()).ptr(dqAddr).ptr(dk.deviceAddress()).ptr(dv.deviceAddress())
                    .ptr(addr(colSum)).ptr(addr(colAfter)).ptr(addr(rowAfter)).i32(t[0]).i32(t[0]).launch();
            if (!direct) {
                long n = rowsQ * p;
                d.kernel(FusedPtx.SOURCE, MODULE, "fa_dq_convert_" + sf).grid(gridFor(d, n, 256)).block(256)
                        .ptr(dqAcc.address()).ptr(dq.deviceAddress()).i64(n).launch();
            }
            if (bias != null) {
                dBias = KernelSupport.allocate(acc, bias.shape(), q.device());
                boolean shared = g.biasHeads == 1; // [B,Lk]: sum the heads; [B,Hq,Lk]: one head per row
                reduce(d, sa, colSum.address(), dBias, 0, shared ? g.batch : g.batch * g.qHeads, shared ? g.qHeads : 1, g.kLen, 1);
            }
            if (g.existence) {
                dLpq = KernelSupport.allocate(acc, new int[] {g.batch, g.qLen}, q.device());
                dLpk = KernelSupport.allocate(acc, new int[] {g.batch, g.kLen}, q.device());
                reduce(d, sa, rowAfter.address(), dLpq, lpq.deviceAddress(), g.batch, g.qHeads, g.qLen, -1);
                reduce(d, sa, colAfter.address(), dLpk, lpk.deviceAddress(), g.batch, g.qHeads, g.kLen, 1);
            }
        }
        return new Tensor[] {dq, dk, dv, dBias, dLpq, dLpk};
    }

    private static DeviceBuffer zeroed(CudaDevice d, long bytes) {
        DeviceBuffer b = d.temporary(bytes);
        d.zero(b.address(), bytes);
        return b;
    }

    private static void reduce(CudaDevice d, String accSuffix, long in, Tensor out, long logp, int rows, int heads, int len, int sign) {
        long n = (long) rows * len;
        d.kernel(FusedPtx.SOURCE, MODULE, "fa_reduce_heads_" + accSuffix).grid(gridFor(d, n, 256)).block(256)
                .ptr(in).ptr(out.deviceAddress()).ptr(logp).i64(rows).i32(heads).i32(len).f64(sign).f64(ProbabilisticAttention.LOG_P_MIN)
                .launch();
    }
}
