package dev.tessera.kernels.scan;

import static dev.tessera.kernels.scan.ScanProblem.*;

import dev.tessera.kernels.FusedPtx;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaLayout;
import dev.tessera.runtime.cuda.DeviceBuffer;
import dev.tessera.runtime.cuda.KernelLaunch;
import dev.tessera.runtime.spi.KernelSupport;

/**
 * Launches native/cuda/kernels/selective_scan.cu for a {@link ScanProblem} whose inputs are on one CUDA device
 * (F32, F64 or BF16; F32 accumulation and state, F64 for F64). See the .cu file for the kernels' design.
 *
 * <p>Geometry: a block of {@link #THREADS} threads holds THREADS/R state rows, R lanes per row (R the smallest power
 * of two with N ≤ R·{@link #KPT}), so N ≤ 256. Blocks ("tiles") cover whole heads of one group, or slices of one
 * head when P exceeds the rows of a block. The forward cuts L into chunks (local scan, carry, rescan) only when
 * (tiles × batch) blocks would not fill the device; the backward runs each (tile, batch) block backwards over the
 * whole length from checkpoints taken every M·T positions.
 */
final class SelectiveScanCuda {
    private SelectiveScanCuda() {}

    static final int THREADS = 128, KPT = 8, MAX_STATE = 32 * KPT;
    private static final String MODULE = "selective_scan";
    /** Shortest forward chunk when the length is cut for parallelism. */
    private static final int MIN_CHUNK = 64;
    /**
     * Above this many bytes of per-tile dB/dC partials the backward adds them with atomics instead (not bitwise
     * repeatable). Not final so that a test can force the atomic path.
     */
    static volatile long partialBudget = 512L << 20;
    /** Most dynamic shared memory the backward asks for. */
    private static final int SHARED_LIMIT = 100 * 1024;

    /** R lanes per row, nk ≤ KPT state entries per thread, heads per block, tiles per head, tiles per group, tiles. */
    record Geometry(int r, int nk, int hpb, int tph, int tilesPerGroup, int tiles) {}

    static Geometry geometry(ScanProblem p) {
        int n = p.stateSize;
        if (n > MAX_STATE) {
            throw new IllegalArgumentException(p.op + ": the CUDA kernels hold at most N = " + MAX_STATE + " states per row, got N = " + n);
        }
        if (p.batch > 65535) throw new IllegalArgumentException(p.op + ": the CUDA kernels take at most 65535 batch rows, got " + p.batch);
        int r = 1;
        while (r * KPT < n) r <<= 1;
        int nk = (n + r - 1) / r, rpb = THREADS / r, hpg = p.headsPerGroup(), pd = p.headDim;
        int hpb, tph;
        if (pd <= rpb) {
            hpb = Math.min(hpg, rpb / pd);
            tph = 1;
        } else {
            hpb = 1;
            tph = (pd + rpb - 1) / rpb;
        }
        int tpg = ((hpg + hpb - 1) / hpb) * tph;
        return new Geometry(r, nk, hpb, tph, tpg, tpg * p.groups);
    }

    /** cuSeqlens rebuilt from the problem's sequences, or null when each batch row is one sequence. */
    static int[] cuSeqlens(ScanProblem p) {
        int s = p.sequences();
        boolean plain = s == p.batch;
        for (int i = 0; plain && i < s; i++) plain = p.seqBatch[i] == i && p.seqStart[i] == 0 && p.seqEnd[i] == p.length;
        if (plain) return null;
        int[] cu = new int[s + 1];
        for (int i = 0; i < s; i++) cu[i] = p.seqStart[i];
        cu[s] = p.length;
        return cu;
    }

    private static CudaDevice device(ScanProblem p) { return CudaDevice.get(p.device.index()); }

    private static String sfx(ScanProblem p) { return CudaLayout.suffix(p.dtype); }

    private static int acc(ScanProblem p) { return p.dtype == DType.F64 ? 8 : 4; }

    private static long addr(Tensor t) { return t == null ? 0 : t.deviceAddress(); }

    private static long addr(DeviceBuffer b) { return b == null ? 0 : b.address(); }

    private static int ceilDiv(long a, long b) { return (int) ((a + b - 1) / b); }

    /** An input or gradient in the problem's dtype, contiguous, on its device. */
    private static Tensor operand(ScanProblem p, String what, Tensor t) {
        if (!t.device().equals(p.device)) {
            throw new IllegalArgumentException(p.op + ": " + what + " is on " + t.device() + " but the inputs are on " + p.device);
        }
        return t.to(p.dtype).contiguous();
    }

    // ------------------------------------------------------------------------------------------------ forward

    static ScanResult forward(ScanProblem p) {
        Tensor y = KernelSupport.allocateUninitialized(p.dtype, p.yShape(), p.device); // written in full (checked on the emulator's NaN-filled memory)
        Tensor fin = null;
        if (p.returnFinal) {
            fin = KernelSupport.allocate(p.dtype, p.stateShape(), p.device);
            if (p.has(INIT)) fin.copyFrom(p.t[INIT]); // an empty packed sequence ends in its initial state
        }
        launchForward(p, y, addr(fin), addr(p.t[INIT]));
        return new ScanResult(y, fin);
    }

    /**
     * The decoding step: p has length 1 and {@code state} as its initial state; the kernel reads the state and
     * overwrites it with the new one in place (each thread reads its entries before writing them). Returns y.
     */
    static Tensor step(ScanProblem p, Tensor state) {
        Tensor y = KernelSupport.allocateUninitialized(p.dtype, p.yShape(), p.device);
        if (state.isContiguous() && state.dtype() == p.dtype) {
            launchForward(p, y, state.deviceAddress(), state.deviceAddress());
        } else {
            Tensor fin = KernelSupport.allocate(p.dtype, p.stateShape(), p.device);
            launchForward(p, y, fin.deviceAddress(), addr(p.t[INIT]));
            state.copyFrom(fin.reshape(state.shape()));
        }
        return y;
    }

    private static void launchForward(ScanProblem p, Tensor y, long fin, long init) {
        Geometry g = geometry(p);
        CudaDevice d = device(p);
        int[] cu = cuSeqlens(p);
        int blocks = g.tiles * p.batch, target = 4 * d.multiprocessorCount(), chunks = 1;
        if (blocks < target && p.length >= 2 * MIN_CHUNK) chunks = Math.min(ceilDiv(target, blocks), p.length / MIN_CHUNK);
        int q = ceilDiv(p.length, chunks);
        chunks = ceilDiv(p.length, q);
        long states = (long) p.batch * chunks * p.heads * p.headDim * p.stateSize * acc(p);
        try (DeviceBuffer cuBuf = cu == null ? null : d.upload(cu);
             DeviceBuffer e = chunks > 1 ? d.temporary(states) : null;
             DeviceBuffer pi = chunks > 1 ? d.temporary(states) : null) {
            if (chunks > 1) {
                scan(d, p, g, chunks, q, 0, addr(cuBuf), 0, 0, init, e.address(), pi.address());
                carry(d, p, e, pi, chunks);
            }
            scan(d, p, g, chunks, q, 1, addr(cuBuf), addr(y), fin, init, addr(e), 0);
        }
    }

    private static KernelLaunch inputs(KernelLaunch k, ScanProblem p) {
        for (int i = X; i <= Z; i++) k.ptr(addr(p.t[i]));
        return k;
    }

    /** The row strides (elements between positions b·L + t) of the per-position inputs x, dt, Bm, Cm and z (0: absent). */
    private static KernelLaunch rowStrides(KernelLaunch k, ScanProblem p) {
        for (int i : new int[] {X, DT, BM, CM, Z}) k.i64(p.t[i] == null ? 0 : p.rowStride(i));
        return k;
    }

    /** Elements between positions of a per-position gradient output. */
    private static long rowStride(Tensor t) { return KernelSupport.rowStride(t, 2); }

    /**
     * Where the gradient of per-position input i goes: the runtime's destination for it (its part of the gradient of
     * the projection it was sliced from) when that is on this device in this dtype with i's shape and evenly spaced
     * positions, else a fresh tensor. The kernels write either in full.
     */
    private static Tensor gradientOut(ScanProblem p, int i) {
        int[] shape = p.t[i].shape();
        Tensor d = ScanProblem.writeGradientsInPlace ? KernelSupport.gradientDestination(i) : null;
        if (d != null && d.dtype() == p.dtype && d.device().equals(p.device) && java.util.Arrays.equals(d.shape(), shape)
                && rowStride(d) >= 0) {
            return d;
        }
        return KernelSupport.allocateUninitialized(p.dtype, shape, p.device);
    }

    private static void scan(CudaDevice d, ScanProblem p, Geometry g, int chunks, int q, int mode, long cu, long y, long fin, long init,
                             long e, long pi) {
        KernelLaunch k = d.kernel(FusedPtx.SOURCE, MODULE, "ss_forward_" + sfx(p)).grid(g.tiles, chunks, p.batch).block(THREADS);
        rowStrides(inputs(k, p).ptr(init).ptr(y).ptr(fin).ptr(e).ptr(pi).ptr(cu).i32(p.sequences()), p)
                .i32(p.length).i32(p.heads).i32(p.headDim).i32(p.groups).i32(p.stateSize).i32(p.aPerState ? 1 : 0).i32(p.softplus ? 1 : 0)
                .i32(g.r()).i32(g.hpb()).i32(g.tph()).i32(q).i32(mode).launch();
    }

    private static void carry(CudaDevice d, ScanProblem p, DeviceBuffer e, DeviceBuffer pi, int chunks) {
        long perB = (long) p.heads * p.headDim * p.stateSize;
        int grid = (int) Math.max(1, Math.min((perB * p.batch + 255) / 256, 32L * d.multiprocessorCount()));
        d.kernel(FusedPtx.SOURCE, MODULE, "ss_carry_" + sfx(p)).grid(grid).block(256)
                .ptr(e.address()).ptr(pi.address()).i64(perB).i32(p.batch).i32(chunks).launch();
    }

    // ----------------------------------------------------------------------------------------------- backward

    /** Shared bytes of the backward for M sub-blocks of T positions per chunk. */
    static long backwardShared(ScanProblem p, Geometry g, int m, int t) {
        int w = THREADS / 32;
        return (long) acc(p) * ((long) m * g.nk() * THREADS + (long) t * g.nk() * THREADS + 2L * t * w * p.stateSize + (long) t * THREADS);
    }

    /** Gradients in the order of {@link ScanProblem#NAMES} (null for absent inputs). */
    static Tensor[] backward(ScanProblem p, Tensor dyIn, Tensor dFinalIn) {
        CudaDevice d = device(p);
        Geometry g = geometry(p);
        Tensor dy = operand(p, "the gradient of y", dyIn);
        Tensor dFinal = dFinalIn == null ? null : operand(p, "the gradient of the final state", dFinalIn);
        int limit = Math.min(d.maxSharedMemoryOptin(), SHARED_LIMIT);
        int tsub = 8, m = 16;
        while (backwardShared(p, g, m, tsub) > limit && m > 1) m /= 2;
        while (backwardShared(p, g, m, tsub) > limit && tsub > 1) tsub /= 2;
        int shared = (int) backwardShared(p, g, m, tsub);
        if (shared > limit) throw new IllegalArgumentException(p.op + ": N = " + p.stateSize + " needs " + shared + " B of shared memory");
        int qb = m * tsub, nC = ceilDiv(p.length, qb), acc = acc(p), na = p.aPerState ? p.stateSize : 1;
        long blgn = (long) p.batch * p.length * p.groups * p.stateSize, blh = (long) p.batch * p.length * p.heads;
        long states = (long) p.batch * nC * p.heads * p.headDim * p.stateSize * acc;
        boolean atomic = g.tilesPerGroup() > 1 && 2L * g.tilesPerGroup() * blgn * acc > partialBudget;
        long partials = (atomic ? 1 : g.tilesPerGroup()) * blgn * acc;

        Tensor[] out = new Tensor[COUNT];
        for (int i = 0; i < COUNT; i++) {
            if (p.has(i)) out[i] = perPosition(i) ? gradientOut(p, i) : KernelSupport.allocate(p.dtype, p.t[i].shape(), p.device);
        }
        if (out[INIT] != null && dFinal != null) out[INIT].copyFrom(dFinal); // an empty packed sequence passes it through
        int[] cu = cuSeqlens(p);
        String sfx = sfx(p);
        try (DeviceBuffer cuBuf = cu == null ? null : d.upload(cu);
             DeviceBuffer e = nC > 1 ? d.temporary(states) : null;
             DeviceBuffer pi = nC > 1 ? d.temporary(states) : null;
             DeviceBuffer dBp = d.temporary(partials);
             DeviceBuffer dCp = d.temporary(partials);
             DeviceBuffer ddtp = d.temporary(g.tph() * blh * acc);
             DeviceBuffer dAp = d.temporary((long) p.batch * g.tph() * p.heads * na * acc);
             DeviceBuffer dDp = d.temporary((long) p.batch * g.tph() * p.heads * acc)) {
            if (atomic) {
                d.zero(dBp.address(), partials);
                d.zero(dCp.address(), partials);
            }
            if (nC > 1) {
                scan(d, p, g, nC, qb, 0, addr(cuBuf), 0, 0, addr(p.t[INIT]), e.address(), pi.address());
                carry(d, p, e, pi, nC);
            }
            String fn = "ss_backward_" + sfx;
            if (shared > 48 * 1024) d.allowSharedMemory(FusedPtx.SOURCE, MODULE, fn, shared);
            KernelLaunch k = d.kernel(FusedPtx.SOURCE, MODULE, fn).grid(g.tiles(), 1, p.batch).block(THREADS).sharedBytes(shared);
            rowStrides(inputs(k, p).ptr(addr(p.t[INIT])).ptr(addr(dy)).ptr(addr(dFinal)).ptr(addr(e)).ptr(addr(cuBuf))
                    .i32(p.sequences()), p)
                    .ptr(addr(out[X])).i64(rowStride(out[X])).ptr(addr(out[Z])).i64(out[Z] == null ? 0 : rowStride(out[Z]))
                    .ptr(addr(out[INIT])).ptr(dBp.address()).ptr(dCp.address()).i32(atomic ? 1 : 0)
                    .ptr(ddtp.address()).ptr(dAp.address()).ptr(dDp.address())
                    .i32(p.batch).i32(p.length).i32(p.heads).i32(p.headDim).i32(p.groups).i32(p.stateSize)
                    .i32(p.aPerState ? 1 : 0).i32(p.softplus ? 1 : 0).i32(g.r()).i32(g.hpb()).i32(g.tph()).i32(tsub).i32(m).launch();
            int rows = atomic ? 1 : g.tilesPerGroup();
            long gn = (long) p.groups * p.stateSize;
            colsum(d, sfx, dBp.address(), out[BM], rows, blgn, gn, rowStride(out[BM]));
            colsum(d, sfx, dCp.address(), out[CM], rows, blgn, gn, rowStride(out[CM]));
            int grid = (int) Math.max(1, Math.min((blh + 255) / 256, 32L * d.multiprocessorCount()));
            d.kernel(FusedPtx.SOURCE, MODULE, "ss_ddt_finish_" + sfx).grid(grid).block(256)
                    .ptr(ddtp.address()).ptr(addr(p.t[DT])).i64(p.rowStride(DT)).ptr(addr(p.t[DT_BIAS])).ptr(addr(out[DT]))
                    .i64(rowStride(out[DT])).i64(blh).i32(p.heads)
                    .i32(g.tph()).i32(p.softplus ? 1 : 0).launch();
            if (out[DT_BIAS] != null) colsum(d, sfx, ddtp.address(), out[DT_BIAS], (long) p.batch * p.length, p.heads);
            colsum(d, sfx, dAp.address(), out[A], (long) p.batch * g.tph(), (long) p.heads * na);
            if (out[D_SKIP] != null) colsum(d, sfx, dDp.address(), out[D_SKIP], (long) p.batch * g.tph(), p.heads);
        }
        return out;
    }

    /** out[c] = Σ_r partial[r·cols + c], in a fixed order; out contiguous. */
    private static void colsum(CudaDevice d, String sfx, long partial, Tensor out, long rows, long cols) {
        colsum(d, sfx, partial, out, rows, cols, cols, cols);
    }

    /** The same into a row-strided out: column c at (c / width)·stride + c % width. */
    private static void colsum(CudaDevice d, String sfx, long partial, Tensor out, long rows, long cols, long width, long stride) {
        int block = rows >= 256 ? 1024 : 256;
        int grid = (int) Math.max(1, Math.min((cols + 31) / 32, 32L * d.multiprocessorCount()));
        d.kernel(FusedPtx.SOURCE, MODULE, "ss_colsum_" + sfx).grid(grid).block(block)
                .ptr(partial).ptr(out.deviceAddress()).i64(rows).i64(cols).i64(width).i64(stride).launch();
    }
}
