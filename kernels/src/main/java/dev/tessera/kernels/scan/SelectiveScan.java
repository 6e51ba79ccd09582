package dev.tessera.kernels.scan;

import static dev.tessera.kernels.scan.ScanProblem.COUNT;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.Arrays;

/**
 * The selective scan of Mamba-2's SSD layer (arXiv 2405.21060, §3 and eq. 1 with scalar-times-identity A) and of
 * Mamba's S6 layer (arXiv 2312.00752, Algorithm 2, diagonal A), with autograd.
 *
 * <p>Mamba-2 form ({@link #apply}): x [B,L,H,P], dt [B,L,H], A [H] (negative), Bm and Cm [B,L,G,N] with H a multiple
 * of G (head h reads group g = h / (H/G)). With Δ_t = softplus(dt_t + dtBias_h) (or dt_t + dtBias_h without softplus),
 * per head the state S ∈ R^{P×N} follows
 * <pre>
 *   S_t = exp(Δ_t·A_h)·S_{t−1} + Δ_t · x_t ⊗ Bm_t          (S_0 = the initial state, or 0)
 *   y_t = S_t·Cm_t + Dskip_h·x_t,      then  y_t ← y_t · SiLU(z_t)  when a gate z is given.
 * </pre>
 * y is [B,L,H,P]; the final state S_L is [B,H,P,N]. With {@code cuSeqlens} (B = 1), the S packed sequences are scanned
 * independently: the state restarts from 0 (or its own initial state, [S,H,P,N]) at each start, and the final state
 * is per sequence, [S,H,P,N]. A may also be [H,N] (a decay per head and state).
 *
 * <p>Mamba-1 form ({@link #mamba1}): u [B,L,D], Δ [B,L,D], A [D,N], Bm and Cm [B,L,N] or [B,L,G,N]; each channel d
 * has its own state h ∈ R^N: h_t = exp(Δ_t·A_d) ⊙ h_{t−1} + Δ_t·u_t·Bm_t, y_t = ⟨h_t, Cm_t⟩ + D_d·u_t. It is the
 * Mamba-2 form with P = 1, H = D and a per-state A.
 *
 * <p>F32 runs the Vector API kernel ({@code SelectiveScanCpu}), F64 the double-precision reference
 * ({@link SelectiveScanReference}), both forward and backward. Without the {@code jdk.incubator.vector} module, F32
 * runs the reference on float64 copies and narrows the results (and gradients) back to F32. Inputs on a CUDA
 * device (F32, F64 or BF16, all on that one device) run native/cuda/kernels/selective_scan.cu ({@code SelectiveScanCuda}). The backward recomputes states from the inputs, so
 * only the inputs are saved. Gradients reach x, dt, A, Bm, Cm, dtBias, Dskip, z and the initial state, and flow from
 * both y and the final state. {@link #step} advances a decoding state by one position and gives the parallel form's
 * output at that position: bit for bit on CUDA, where both run one kernel; on the CPU to within rounding, since the
 * step's kernel sums ⟨S, C⟩ in another order than the parallel form's.
 */
public final class SelectiveScan {
    private SelectiveScan() {}

    /** The Mamba-2 (SSD) form; see the class documentation for the math and shapes. */
    public static ScanResult apply(Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions options) {
        return run("selective_scan", x, dt, a, bm, cm, options == null ? ScanOptions.NONE : options);
    }

    /**
     * The Mamba-1 (S6) form: u [B,L,D], delta [B,L,D], A [D,N], Bm and Cm [B,L,N] or [B,L,G,N]; options hold dtBias [D],
     * Dskip [D], z [B,L,D], initial state [B,D,N] (or [S,D,N] packed). Returns y [B,L,D] and final state [B,D,N].
     */
    public static ScanResult mamba1(Tensor u, Tensor delta, Tensor a, Tensor bm, Tensor cm, ScanOptions options) {
        String op = "selective_scan_mamba1";
        ScanOptions o = options == null ? ScanOptions.NONE : options;
        need(op, "u", u, 3, "[B,L,D]");
        need(op, "delta", delta, 3, "[B,L,D]");
        need(op, "A", a, 2, "[D,N]");
        if (bm.dim() != 3 && bm.dim() != 4) throw new IllegalArgumentException(op + ": Bm must be [B,L,N] or [B,L,G,N], got " + str(bm));
        if (cm.dim() != bm.dim()) throw new IllegalArgumentException(op + ": Cm " + str(cm) + " must have the rank of Bm " + str(bm));
        if (o.z() != null) need(op, "z", o.z(), 3, "[B,L,D]");
        if (o.initialState() != null) need(op, "initialState", o.initialState(), 3, "[B,D,N]");
        Tensor b4 = bm.dim() == 3 ? bm.unsqueeze(2) : bm, c4 = cm.dim() == 3 ? cm.unsqueeze(2) : cm;
        ScanOptions mapped = o.withGateAndState(o.z() == null ? null : o.z().unsqueeze(3),
                o.initialState() == null ? null : o.initialState().unsqueeze(2));
        ScanResult r = run(op, u.unsqueeze(3), delta, a, b4, c4, mapped);
        return new ScanResult(r.y().squeeze(3), r.finalState() == null ? null : r.finalState().squeeze(2));
    }

    /**
     * One decoding step of the Mamba-2 form, batched: x [B,H,P], dt [B,H], A [H] or [H,N], Bm and Cm [B,G,N], options'
     * z [B,H,P] (and dtBias, softplus, Dskip). Advances {@code state} [B,H,P,N] in place and returns y [B,H,P].
     * Repeated steps reproduce the parallel output and final state (bit for bit on CUDA, to within rounding on the CPU).
     * Records no autograd.
     */
    public static Tensor step(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions options) {
        String op = "selective_scan_step";
        ScanOptions o = options == null ? ScanOptions.NONE : options;
        need(op, "state", state, 4, "[B,H,P,N]");
        need(op, "x", x, 3, "[B,H,P]");
        need(op, "dt", dt, 2, "[B,H]");
        need(op, "Bm", bm, 3, "[B,G,N]");
        need(op, "Cm", cm, 3, "[B,G,N]");
        if (o.z() != null) need(op, "z", o.z(), 3, "[B,H,P]");
        if (o.initialState() != null || o.cuSeqlens() != null || o.returnFinalState()) {
            throw new IllegalArgumentException(op + ": the state is an argument of step; initialState, cuSeqlens and returnFinalState "
                    + "must not be set");
        }
        try (Grad.Region g = Grad.noGrad()) {
            ScanOptions one = o.withGateAndState(o.z() == null ? null : o.z().unsqueeze(1), null).withState(state, true);
            boolean cuda = !state.device().isCpu();
            if (cuda || (state.dtype() == DType.F32 && state.isContiguous() && KernelSupport.vectorAvailable())) {
                ScanProblem p = ScanProblem.of(op, x.unsqueeze(1), dt.unsqueeze(1), a, bm.unsqueeze(1), cm.unsqueeze(1), one);
                if (cuda) return SelectiveScanCuda.step(p, state).squeeze(1); // both advance the state in place
                if (p.dtype == DType.F32) {
                    long profiled = KernelSupport.profileStart();
                    Tensor y = SelectiveScanCpu.step(p, state);
                    KernelSupport.profileStop("selective_scan_step", profiled);
                    return y.squeeze(1);
                }
            }
            ScanResult r = run(op, x.unsqueeze(1), dt.unsqueeze(1), a, bm.unsqueeze(1), cm.unsqueeze(1), one);
            state.copyFrom(r.finalState());
            return r.y().squeeze(1);
        }
    }

    /**
     * One decoding step of the Mamba-1 form: u and delta [B,D], A [D,N], Bm and Cm [B,N] or [B,G,N], options' z [B,D].
     * Advances {@code state} [B,D,N] in place and returns y [B,D].
     */
    public static Tensor mamba1Step(Tensor state, Tensor u, Tensor delta, Tensor a, Tensor bm, Tensor cm, ScanOptions options) {
        String op = "selective_scan_mamba1_step";
        ScanOptions o = options == null ? ScanOptions.NONE : options;
        need(op, "state", state, 3, "[B,D,N]");
        need(op, "u", u, 2, "[B,D]");
        if (bm.dim() != 2 && bm.dim() != 3) throw new IllegalArgumentException(op + ": Bm must be [B,N] or [B,G,N], got " + str(bm));
        if (cm.dim() != bm.dim()) throw new IllegalArgumentException(op + ": Cm " + str(cm) + " must have the rank of Bm " + str(bm));
        if (o.z() != null) need(op, "z", o.z(), 2, "[B,D]");
        Tensor b3 = bm.dim() == 2 ? bm.unsqueeze(1) : bm, c3 = cm.dim() == 2 ? cm.unsqueeze(1) : cm;
        ScanOptions mapped = o.withGateAndState(o.z() == null ? null : o.z().unsqueeze(2), null);
        return step(state.unsqueeze(2), u.unsqueeze(2), delta, a, b3, c3, mapped).squeeze(2);
    }

    private static ScanResult run(String op, Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions o) {
        ScanProblem p = ScanProblem.of(op, x, dt, a, bm, cm, o);
        if (p.device.isCpu() && p.dtype == DType.F32 && !KernelSupport.vectorAvailable()) return runWidened(op, x, dt, a, bm, cm, o);
        Tensor[] inputs = {x, dt, a, bm, cm, o.dtBias(), o.dSkip(), o.z(), o.initialState()};
        boolean grad = Grad.isEnabled() && Arrays.stream(inputs).anyMatch(t -> t != null && t.requiresGrad());
        // the chunked CPU forward keeps what its backward would recompute, when there will be a backward
        ChunkStates keep = grad && p.device.isCpu() && p.dtype == DType.F32 && ChunkedScanBackward.applies(p) ? new ChunkStates(p) : null;
        ScanResult r;
        try (Grad.Region g = Grad.noGrad()) {
            long profiled = KernelSupport.profileStart();
            r = !p.device.isCpu() ? SelectiveScanCuda.forward(p)
                    : p.dtype == DType.F32 ? SelectiveScanCpu.forward(p, keep) : SelectiveScanReference.forward(p);
            KernelSupport.profileStop("selective_scan", profiled);
        }
        if (!grad) return r;
        ScanProblem shell = p.on(new Tensor[COUNT]); // the backward captures sizes only; tensors come through `saved`
        int[] yShape = p.yShape(), sShape = p.stateShape();
        if (!p.returnFinal) {
            Tensor y = KernelSupport.record(op, r.y(), inputs, p.t, (dy, saved) -> backward(shell.on(saved), dy, null, keep));
            return new ScanResult(y, null);
        }
        // One recorded output carries both results, so that gradients of y and of the final state meet in one backward.
        long ny = r.y().numel(), ns = r.finalState().numel();
        Tensor both = KernelSupport.allocate(p.dtype, new int[] {(int) (ny + ns)}, x.device());
        try (Grad.Region g = Grad.noGrad()) {
            both.narrow(0, 0, (int) ny).copyFrom(r.y().reshape(-1));
            both.narrow(0, (int) ny, (int) ns).copyFrom(r.finalState().reshape(-1));
        }
        Tensor rec = KernelSupport.record(op, both, inputs, p.t, (d, saved) -> backward(shell.on(saved),
                d.narrow(0, 0, (int) ny).reshape(yShape), d.narrow(0, (int) ny, (int) ns).reshape(sShape), keep));
        return new ScanResult(rec.narrow(0, 0, (int) ny).reshape(yShape), rec.narrow(0, (int) ny, (int) ns).reshape(sShape));
    }

    /**
     * F32 on the CPU without the Vector API module: the float64 reference on widened copies, results narrowed back
     * to F32. The conversions are recorded ops, so gradients reach the F32 inputs as F32; no Vector API class is
     * touched on this route.
     */
    private static ScanResult runWidened(String op, Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, ScanOptions o) {
        ScanOptions wide = new ScanOptions(wide(o.dtBias()), o.softplus(), wide(o.dSkip()), wide(o.z()), wide(o.initialState()),
                o.cuSeqlens(), o.returnFinalState());
        ScanResult r = run(op, wide(x), wide(dt), wide(a), wide(bm), wide(cm), wide);
        return new ScanResult(r.y().to(DType.F32), r.finalState() == null ? null : r.finalState().to(DType.F32));
    }

    private static Tensor wide(Tensor t) { return t == null ? null : t.to(DType.F64); }

    private static Tensor[] backward(ScanProblem p, Tensor dy, Tensor dFinal, ChunkStates kept) {
        if (!p.device.isCpu()) return SelectiveScanCuda.backward(p, dy, dFinal);
        return p.dtype == DType.F32 ? SelectiveScanCpu.backward(p, dy, dFinal, kept) : SelectiveScanReference.backward(p, dy, dFinal);
    }

    private static void need(String op, String name, Tensor t, int rank, String shape) {
        if (t == null) throw new IllegalArgumentException(op + ": " + name + " is required");
        if (t.dim() != rank) throw new IllegalArgumentException(op + ": " + name + " must be " + shape + " (rank " + rank + "), got " + str(t));
    }

    private static String str(Tensor t) { return Arrays.toString(t.shape()); }
}
