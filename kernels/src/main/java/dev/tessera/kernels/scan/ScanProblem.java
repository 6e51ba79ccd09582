package dev.tessera.kernels.scan;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.Arrays;

/**
 * One validated selective-scan call: the sizes, the (contiguous) input tensors, and the list of sequences to scan.
 *
 * <p>Every form is reduced to one general problem: x [B,L,H,P], dt [B,L,H], A [H] (Mamba-2, one decay per head) or
 * [H,N] (Mamba-1, one decay per head and state; there P = 1 and H = D channels), Bm/Cm [B,L,G,N]. A "sequence" is a
 * (batch row, start, end) triple: one per batch row, or one per packed document when {@code cuSeqlens} is given, so
 * that the kernels never need to know which of the two they run.
 */
final class ScanProblem {
    static final int X = 0, DT = 1, A = 2, BM = 3, CM = 4, DT_BIAS = 5, D_SKIP = 6, Z = 7, INIT = 8, COUNT = 9;
    static final String[] NAMES = {"x", "dt", "A", "Bm", "Cm", "dtBias", "Dskip", "z", "initialState"};

    final String op;
    final int batch, length, heads, headDim, groups, stateSize;
    /** A is [H,N] (a decay per state, Mamba-1) rather than [H]. */
    final boolean aPerState;
    final boolean softplus, returnFinal;
    final DType dtype;
    /** The device of every input (x's). */
    final Device device;
    /**
     * The inputs in the order of {@link #NAMES}, contiguous, except that for the CUDA kernels and the CPU's F32 kernels
     * x, dt, Bm, Cm and z may be row-strided views ({@link #rowStrided}: slices of one projection, say), read in place
     * instead of copied; absent optional inputs are null.
     */
    final Tensor[] t;
    /** Sequence s covers rows [seqStart[s], seqEnd[s]) of batch row seqBatch[s]. */
    final int[] seqBatch, seqStart, seqEnd;

    private ScanProblem(ScanProblem p, Tensor[] tensors) {
        op = p.op; batch = p.batch; length = p.length; heads = p.heads; headDim = p.headDim; groups = p.groups;
        stateSize = p.stateSize; aPerState = p.aPerState; softplus = p.softplus; returnFinal = p.returnFinal; dtype = p.dtype; device = p.device;
        seqBatch = p.seqBatch; seqStart = p.seqStart; seqEnd = p.seqEnd;
        t = tensors;
    }

    private ScanProblem(String op, Tensor[] in, ScanOptions o) {
        this.op = op;
        Tensor x = in[X], dt = in[DT], a = in[A], bm = in[BM], cm = in[CM];
        for (int i = 0; i < 5; i++) if (in[i] == null) throw new IllegalArgumentException(op + ": " + NAMES[i] + " is required");
        rank(op, "x", x, 4, "[B,L,H,P]");
        rank(op, "dt", dt, 3, "[B,L,H]");
        rank(op, "Bm", bm, 4, "[B,L,G,N]");
        rank(op, "Cm", cm, 4, "[B,L,G,N]");
        batch = x.size(0); length = x.size(1); heads = x.size(2); headDim = x.size(3);
        groups = bm.size(2); stateSize = bm.size(3);
        int[] xs = x.shape();
        for (int d : xs) if (d <= 0) throw new IllegalArgumentException(op + ": sizes must be positive, x has shape " + str(x));
        for (int d : bm.shape()) if (d <= 0) throw new IllegalArgumentException(op + ": sizes must be positive, Bm has shape " + str(bm));
        same(op, "dt", dt, new int[] {batch, length, heads}, () -> "[B,L,H] with x " + str(x));
        same(op, "Cm", cm, bm.shape(), () -> "the shape of Bm " + str(bm));
        if (bm.size(0) != batch || bm.size(1) != length) {
            throw new IllegalArgumentException(op + ": Bm " + str(bm) + " must have the batch and length of x " + str(x));
        }
        if (heads % groups != 0) {
            throw new IllegalArgumentException(op + ": the heads H = " + heads + " of x " + str(x) + " must be a multiple of the groups G = "
                    + groups + " of Bm " + str(bm));
        }
        if (a.dim() == 1 && a.size(0) == heads) aPerState = false;
        else if (a.dim() == 2 && a.size(0) == heads && a.size(1) == stateSize) aPerState = true;
        else throw new IllegalArgumentException(op + ": A must be [H] = [" + heads + "] or [H,N] = [" + heads + ", " + stateSize
                + "], got " + str(a));
        softplus = o.softplus();
        returnFinal = o.returnFinalState();
        dtype = x.dtype();
        device = x.device();
        if (dtype != DType.F32 && dtype != DType.F64 && !(!device.isCpu() && dtype == DType.BF16)) {
            throw new IllegalArgumentException(op + ": x must be F32 or F64 (or BF16 on CUDA), got " + dtype + " on " + device);
        }
        int[] cu = o.cuSeqlens();
        if (cu == null) {
            seqBatch = new int[batch]; seqStart = new int[batch]; seqEnd = new int[batch];
            for (int b = 0; b < batch; b++) { seqBatch[b] = b; seqEnd[b] = length; }
        } else {
            if (batch != 1) throw new IllegalArgumentException(op + ": cuSeqlens needs a packed batch of 1, x has shape " + str(x));
            if (cu.length < 2 || cu[0] != 0 || cu[cu.length - 1] != length) {
                throw new IllegalArgumentException(op + ": cuSeqlens must run from 0 to L = " + length + ", got " + Arrays.toString(cu));
            }
            int s = cu.length - 1;
            seqBatch = new int[s]; seqStart = new int[s]; seqEnd = new int[s];
            for (int i = 0; i < s; i++) {
                if (cu[i + 1] < cu[i]) throw new IllegalArgumentException(op + ": cuSeqlens must not decrease, got " + Arrays.toString(cu));
                seqStart[i] = cu[i];
                seqEnd[i] = cu[i + 1];
            }
        }
        int seqs = seqBatch.length;
        if (o.dtBias() != null) same(op, "dtBias", o.dtBias(), new int[] {heads}, () -> "[H] = [" + heads + "]");
        if (o.dSkip() != null) same(op, "Dskip", o.dSkip(), new int[] {heads}, () -> "[H] = [" + heads + "]");
        if (o.z() != null) same(op, "z", o.z(), xs, () -> "the shape of x " + str(x));
        if (o.initialState() != null) {
            same(op, "initialState", o.initialState(), new int[] {seqs, heads, headDim, stateSize},
                    () -> (cu == null ? "[B,H,P,N]" : "[S,H,P,N] (S = " + seqs + " packed sequences)") + " with x " + str(x) + " and Bm " + str(bm));
        }
        Tensor[] all = {x, dt, a, bm, cm, o.dtBias(), o.dSkip(), o.z(), o.initialState()};
        for (int i = 0; i < COUNT; i++) {
            Tensor v = all[i];
            if (v == null) continue;
            if (v.dtype() != dtype) {
                throw new IllegalArgumentException(op + ": dtype mismatch, x is " + dtype + " but " + NAMES[i] + " " + str(v) + " is " + v.dtype());
            }
            if (!v.device().equals(device)) {
                throw new IllegalArgumentException(op + ": inputs must share one device, x is on " + device + " but " + NAMES[i] + " "
                        + str(v) + " is on " + v.device());
            }
        }
        t = new Tensor[COUNT];
        boolean inPlace = !device.isCpu() || (dtype == DType.F32 && KernelSupport.vectorAvailable());
        try (Grad.Region g = Grad.noGrad()) {
            for (int i = 0; i < COUNT; i++) {
                Tensor v = all[i];
                t[i] = v == null ? null : inPlace && perPosition(i) && rowStrided(v) ? v : v.contiguous();
            }
        }
    }

    /**
     * Whether the backwards (CPU and CUDA) write per-position gradients into the runtime's destinations; off only in
     * tests that count the copies the destinations save.
     */
    static boolean writeGradientsInPlace = true;

    /** Inputs with one block of values per (batch row, position): x, dt, Bm, Cm and z. */
    static boolean perPosition(int i) { return i == X || i == DT || i == BM || i == CM || i == Z; }

    /**
     * Whether a [B, L, ...] tensor keeps each position's values contiguous (in row-major order) and its positions
     * {@link #rowStride} apart in (batch row, position) order, so that position r = b·L + l starts at r·rowStride.
     */
    static boolean rowStrided(Tensor v) { return KernelSupport.rowStride(v, 2) >= 0; }

    /** Elements between consecutive positions (b·L + l order) of a per-position input. */
    long rowStride(int i) { return KernelSupport.rowStride(t[i], 2); }

    /** Validates a call and makes its inputs contiguous; {@code in} in the order of {@link #NAMES} minus the options. */
    static ScanProblem of(String op, Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions o) {
        return new ScanProblem(op, new Tensor[] {x, dt, a, bm, cm}, o == null ? ScanOptions.NONE : o);
    }

    /** The same problem on other tensors (the saved ones, inside backward). */
    ScanProblem on(Tensor[] tensors) { return new ScanProblem(this, tensors); }

    boolean has(int i) { return t[i] != null; }

    int sequences() { return seqBatch.length; }

    int[] yShape() { return new int[] {batch, length, heads, headDim}; }

    int[] stateShape() { return new int[] {sequences(), heads, headDim, stateSize}; }

    /** Heads per group: head h reads group h / headsPerGroup. */
    int headsPerGroup() { return heads / groups; }

    static String str(Tensor t) { return Arrays.toString(t.shape()); }

    private static void rank(String op, String name, Tensor t, int r, String want) {
        if (t.dim() != r) throw new IllegalArgumentException(op + ": " + name + " must be " + want + " (rank " + r + "), got " + str(t));
    }

    /** {@code what} describes the expected shape; built only for the message, not on every call (decoding steps validate too). */
    private static void same(String op, String name, Tensor t, int[] want, java.util.function.Supplier<String> what) {
        if (!Arrays.equals(t.shape(), want)) {
            throw new IllegalArgumentException(op + ": " + name + " must be " + Arrays.toString(want) + ", i.e. " + what.get() + "; got " + str(t));
        }
    }
}
