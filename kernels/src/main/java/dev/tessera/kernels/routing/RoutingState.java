package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * Routing and dechunking one position at a time for a batch of B independent sequences (decoding), giving exactly
 * (bit for bit) the p, b and dechunked output of {@link ChunkRouter} at every position. Per row it holds q of the
 * previous position and the current EMA state z̄; the reference implementation steps batch 1 only, here each row
 * follows its own boundary pattern.
 *
 * <p>One step, per new byte of every row:
 * <pre>{@code
 * StepRouting r = state.route(q, k);                  // q, k [B, D] of the new position
 * Tensor zh = inner.step(rowsOf(xh, r.boundaryRows())); // [n, D]: only rows with a boundary run the inner network
 * Tensor z = state.dechunk(zh);                        // [B, D]: the dechunked output of every row
 * }</pre>
 * {@code route} and {@code dechunk} alternate. Rows without a boundary keep z̄ (the upsample repeats it); a boundary
 * row updates z̄ = P·ẑ + (1 − P)·z̄ with P = clamp(p, 1e−4, 1 − 1e−4). STE(c) is 1 forward; no autograd here.
 * The state (B·D values twice) is tensor storage: {@link #close} releases it (on the device too), and a state never
 * closed is freed by the storages' cleaner some time after it is collected.
 *
 * <p>On CUDA ({@link #create(int, int, DType, Device)}, or {@link #afterPrefill} of CUDA tensors) the state lives on
 * the device (z̄ in the accumulator type: F32 for BF16), both steps run as kernels and every returned tensor is on
 * the device; {@code route} reads back the B boundary bytes (one small read per step) to give
 * {@link StepRouting#boundaryRows()}. The result equals the parallel CUDA form bit for bit as long as the parallel
 * dechunk runs its EMA as one segment (at most {@link ChunkRoutingCuda#MIN_SEGMENT} chunks per row; longer rows
 * are split into segments whose fix-up rounds differently, within a few ulps).
 *
 * <p>Without the {@code jdk.incubator.vector} module an F32 state steps with the reference's float64 formulas (z̄ kept
 * in F32 between steps), so it matches the parallel form, which then also runs the reference, to F32 rounding rather
 * than bit for bit.
 */
public final class RoutingState implements AutoCloseable {
    private final int batch, dim;
    private final DType dtype;
    private final MemorySegment previousQ, zbar; // [B, D] row-major (CPU): the memory of qPrevT and zbarT
    private final Tensor qPrevT, zbarT; // CPU
    private final boolean[] seen; // per row: past its first position (on CUDA a host mirror of seenD)
    private final boolean vectorF32; // CPU F32 with the Vector API: the fast kernels' row functions; else the reference's
    private final Device device;
    private final Tensor qPrevD, zbarD, seenD, pStateD; // CUDA: [B, D] dtype, [B, D] accumulator, [B] BOOL, [B] dtype
    private float[] pendingP; // p of the last route per batch row, while its dechunk is pending
    private double[] pendingProbs;
    private RowSubset pendingSubset; // the rows the last route stepped
    private int[] pendingRows; // positions in pendingSubset of its boundary rows

    private RoutingState(int batch, int dim, DType dtype, Device device) {
        this.batch = batch;
        this.dim = dim;
        this.dtype = dtype;
        this.device = device;
        this.vectorF32 = dtype == DType.F32 && device.isCpu() && KernelSupport.vectorAvailable();
        if (device.isCpu()) {
            // Zeroed tensor storage out of every scope, read through its segments (the Vector API reads heap segments
            // only when they wrap byte[]); z̄ starts at zero, which the first dechunk of a row weighs by 1 − P ≈ 1e−4.
            qPrevT = Scope.persist(Tensor.zeros(dtype, Device.cpu(), batch, dim));
            zbarT = Scope.persist(Tensor.zeros(dtype, Device.cpu(), batch, dim));
            previousQ = KernelSupport.segment(qPrevT);
            zbar = KernelSupport.segment(zbarT);
            seen = new boolean[batch];
            qPrevD = zbarD = seenD = pStateD = null;
        } else {
            previousQ = zbar = null;
            qPrevT = zbarT = null;
            seen = new boolean[batch];
            // Out of every scope: released by close (or, never closed, by the storages' cleaner).
            DType acc = dtype == DType.F64 ? DType.F64 : DType.F32;
            qPrevD = Scope.persist(KernelSupport.allocate(dtype, new int[] {batch, dim}, device));
            zbarD = Scope.persist(KernelSupport.allocate(acc, new int[] {batch, dim}, device));
            seenD = Scope.persist(KernelSupport.allocate(DType.BOOL, new int[] {batch}, device));
            pStateD = Scope.persist(KernelSupport.allocate(dtype, new int[] {batch}, device));
        }
    }

    /** Releases the state's memory; the state must not be used afterwards. Closing twice does nothing. */
    @Override
    public void close() {
        closed = true;
        for (Tensor t : new Tensor[] {qPrevT, zbarT, qPrevD, zbarD, seenD, pStateD}) if (t != null) t.close();
    }

    private boolean closed;

    /** The CPU path writes the state's memory through raw segments: after close that memory may be another tensor's. */
    private void checkOpen(String op) {
        if (closed) throw new IllegalStateException("RoutingState." + op + ": the state is closed");
    }

    /** A state for B rows of width D on the CPU, each at the start of a sequence. */
    public static RoutingState create(int batch, int dim, DType dtype) { return create(batch, dim, dtype, Device.cpu()); }

    /** A state for B rows of width D on {@code device} (CPU: F32, F64; CUDA: F32, F64, BF16), each at a sequence start. */
    public static RoutingState create(int batch, int dim, DType dtype, Device device) {
        boolean ok = dtype == DType.F32 || dtype == DType.F64 || (!device.isCpu() && ChunkRoutingCuda.supports(dtype));
        if (batch < 1 || dim < 1 || !ok) {
            throw new IllegalArgumentException("RoutingState: need batch >= 1, dim >= 1 and F32 or F64 (BF16 too on CUDA), got batch "
                    + batch + ", dim " + dim + ", " + dtype + " on " + device);
        }
        return new RoutingState(batch, dim, dtype, device);
    }

    /**
     * The state after a parallel prefill: q [B, L, D] and the dechunked output [B, L, D] of the prompt, mask [B, L]
     * (null: all real); each row continues after its last real position (a row with none starts fresh).
     */
    public static RoutingState afterPrefill(Tensor q, Tensor dechunked, Tensor mask) {
        if (q.dim() != 3 || !Arrays.equals(q.shape(), dechunked.shape()) || q.dtype() != dechunked.dtype()) {
            throw new IllegalArgumentException("RoutingState.afterPrefill: q " + q.dtype() + " " + Arrays.toString(q.shape())
                    + " and dechunked " + dechunked.dtype() + " " + Arrays.toString(dechunked.shape()) + " must match, [B, L, D]");
        }
        int nb = q.size(0), len = q.size(1), d = q.size(2);
        if (!dechunked.device().equals(q.device())) {
            throw new IllegalArgumentException("RoutingState.afterPrefill: q is on " + q.device() + " but dechunked on " + dechunked.device());
        }
        RoutingState s = create(nb, d, q.dtype(), q.device());
        Layout layout = mask == null ? Layout.rows(nb, len) : Layout.fromMask("RoutingState.afterPrefill", mask, nb, len);
        if (!q.device().isCpu()) {
            s.prefillCuda(q, dechunked, layout);
            return s;
        }
        double[] qv = q.toDoubleArray(), zv = dechunked.toDoubleArray();
        for (int r = 0; r < nb; r++) {
            int last = -1;
            for (int t = 0; t < len; t++) if (layout.valid(r * len + t)) last = t;
            if (last < 0) continue;
            s.seen[r] = true;
            for (int j = 0; j < d; j++) { // exact: the values were F32 or F64 already
                s.set(s.previousQ, r * d + j, qv[(r * len + last) * d + j]);
                s.set(s.zbar, r * d + j, zv[(r * len + last) * d + j]);
            }
        }
        return s;
    }

    /** CUDA: copies each row's last real q and dechunked output into the state, device to device. */
    private void prefillCuda(Tensor q, Tensor dechunked, Layout layout) {
        int len = layout.length;
        var dev = ChunkRoutingCuda.device(q);
        try (Grad.Region g = Grad.noGrad()) {
            Tensor qc = q.contiguous(), zc = dechunked.to(zbarD.dtype()).contiguous();
            long qRow = (long) dim * dtype.byteSize(), zRow = (long) dim * zbarD.dtype().byteSize();
            byte[] seenRows = new byte[batch];
            for (int r = 0; r < batch; r++) {
                int last = -1;
                for (int t = 0; t < len; t++) if (layout.valid(r * len + t)) last = t;
                if (last < 0) continue;
                seenRows[r] = 1;
                seen[r] = true;
                long at = (long) r * len + last;
                dev.copyDeviceToDevice(qc.deviceAddress() + at * qRow, qPrevD.deviceAddress() + r * qRow, qRow);
                dev.copyDeviceToDevice(zc.deviceAddress() + at * zRow, zbarD.deviceAddress() + r * zRow, zRow);
            }
            dev.copyToDevice(MemorySegment.ofArray(seenRows), 0, seenD.deviceAddress(), batch);
        }
    }

    /**
     * Sets row {@code row} as it stands after the L ≥ 1 positions of one sequence routed in parallel: q [1, L, D]
     * of those positions (null for a state routed by a fixed rule, which tracks no q) and their dechunked output
     * [1, L, D]. The row's next position then continues that sequence, as if it had stepped through them.
     */
    @SuppressWarnings("try") // the region only switches gradient recording off
    public void prefillRow(int row, Tensor q, Tensor dechunked) {
        checkOpen("prefillRow");
        if (pendingRows != null) throw new IllegalStateException("RoutingState.prefillRow: dechunk the previous step first");
        Objects.checkIndex(row, batch);
        int len = dechunked.dim() == 3 ? dechunked.size(1) : 0;
        int[] want = {1, len, dim};
        if (len < 1 || !Arrays.equals(dechunked.shape(), want) || dechunked.dtype() != dtype || (q != null && (!Arrays.equals(q.shape(), want) || q.dtype() != dtype))) {
            throw new IllegalArgumentException("RoutingState.prefillRow: q and dechunked must be " + dtype + " [1, L ≥ 1, " + dim + "], got q "
                    + (q == null ? "null" : q.dtype() + " " + Arrays.toString(q.shape())) + " and dechunked " + dechunked.dtype() + " "
                    + Arrays.toString(dechunked.shape()));
        }
        if (!dechunked.device().equals(device) || (q != null && !q.device().equals(device))) {
            throw new IllegalArgumentException("RoutingState.prefillRow: the state is on " + device + ", got dechunked on " + dechunked.device()
                    + (q == null ? "" : " and q on " + q.device()));
        }
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor zLast = dechunked.select(0, 0).narrow(0, len - 1, 1), qLast = q == null ? null : q.select(0, 0).narrow(0, len - 1, 1);
            if (!device.isCpu()) {
                zbarD.narrow(0, row, 1).copyFrom(zLast.to(zbarD.dtype()));
                if (qLast != null) qPrevD.narrow(0, row, 1).copyFrom(qLast);
                seenD.narrow(0, row, 1).copyFrom(Tensor.of(new boolean[] {true}, 1).to(device));
            } else {
                double[] zv = zLast.toDoubleArray(), qv = qLast == null ? null : qLast.toDoubleArray();
                for (int j = 0; j < dim; j++) { // exact: the values were F32 or F64 already
                    set(zbar, (long) row * dim + j, zv[j]);
                    if (qv != null) set(previousQ, (long) row * dim + j, qv[j]);
                }
            }
        }
        seen[row] = true;
    }

    public int batch() { return batch; }

    public int dim() { return dim; }

    /** Starts a new sequence in {@code row}: its next position is a sequence start (p = 1) and z̄ = 0. */
    public void reset(int row) {
        checkOpen("reset");
        Objects.checkIndex(row, batch);
        if (!device.isCpu()) {
            var dev = ChunkRoutingCuda.device(zbarD);
            long zRow = (long) dim * zbarD.dtype().byteSize();
            dev.zero(zbarD.deviceAddress() + row * zRow, zRow);
            dev.zero(seenD.deviceAddress() + row, 1);
            seen[row] = false;
            return;
        }
        seen[row] = false;
        for (int j = 0; j < dim; j++) set(zbar, row * dim + j, 0);
    }

    /** Routes the new position of every row from its q and k ([B, D]); stores q for the next step. */
    public StepRouting route(Tensor q, Tensor k) { return route(q, k, RowSubset.all(batch)); }

    /**
     * Routes the new position of the rows {@code rows} (n of them) from their q and k ([n, D], in order); the other
     * rows neither move nor are read. p, b and c of the result are [n] and its boundary rows are positions in
     * {@code rows}; the {@link #dechunk} that follows returns those n rows.
     */
    public StepRouting route(Tensor q, Tensor k, RowSubset rows) {
        checkOpen("route");
        if (pendingRows != null) throw new IllegalStateException("RoutingState.route: dechunk the previous step first");
        checkRows("route", rows);
        int n = rows.size();
        int[] want = {n, dim};
        if (!Arrays.equals(q.shape(), want) || !Arrays.equals(k.shape(), want) || q.dtype() != dtype || k.dtype() != dtype) {
            throw new IllegalArgumentException("RoutingState.route: q and k must be " + dtype + " " + Arrays.toString(want) + ", got q "
                    + q.dtype() + " " + Arrays.toString(q.shape()) + " and k " + k.dtype() + " " + Arrays.toString(k.shape()));
        }
        if (!q.device().equals(device) || !k.device().equals(device)) {
            throw new IllegalArgumentException("RoutingState.route: the state is on " + device + ", got q on " + q.device() + " and k on "
                    + k.device());
        }
        if (!device.isCpu()) return routeCuda(q, k, rows);
        float[] p32 = new float[batch];
        double[] p = new double[n], c = new double[n];
        boolean[] b = new boolean[n];
        try (Grad.Region g = Grad.noGrad()) {
            Tensor qc = q.contiguous(), kc = k.contiguous();
            if (vectorF32) {
                MemorySegment qs = KernelSupport.segment(qc), ks = KernelSupport.segment(kc);
                long qo = 4L * KernelSupport.offset(qc), ko = 4L * KernelSupport.offset(kc);
                float[] lanes = new float[RouteKernel.S.length()];
                for (int j = 0; j < n; j++) {
                    int r = rows.row(j);
                    long row = 4L * r * dim, in = 4L * j * dim;
                    // The same call, on the same values, as the parallel kernel's position t (q_{t−1}, k_t).
                    float pr = seen[r] ? RouteKernel.boundaryProb(RouteKernel.cosine(previousQ, row, ks, ko + in, dim, lanes, null)) : 1f;
                    p32[r] = pr;
                    b[j] = pr > 0.5f;
                    p[j] = pr;
                    c[j] = b[j] ? pr : 1f - pr;
                    MemorySegment.copy(qs, qo + in, previousQ, row, 4L * dim);
                }
            } else {
                double[] qv = qc.toDoubleArray(), kv = kc.toDoubleArray();
                for (int j = 0; j < n; j++) {
                    int r = rows.row(j);
                    double[] kr = Arrays.copyOfRange(kv, j * dim, (j + 1) * dim);
                    p[j] = seen[r] ? ChunkRoutingReference.boundaryProb(ChunkRoutingReference.cosine(row(previousQ, r), kr)) : 1;
                    b[j] = ChunkRoutingReference.isBoundary(p[j]);
                    c[j] = ChunkRoutingReference.confidence(p[j], b[j]);
                    for (int i = 0; i < dim; i++) set(previousQ, r * dim + i, qv[j * dim + i]);
                }
            }
        }
        int[] local = new int[n];
        double[] probs = new double[batch];
        int m = 0;
        for (int j = 0; j < n; j++) {
            seen[rows.row(j)] = true;
            probs[rows.row(j)] = p[j];
            if (b[j]) local[m++] = j;
        }
        pendingSubset = rows;
        pendingRows = Arrays.copyOf(local, m);
        pendingP = vectorF32 ? p32 : null;
        pendingProbs = probs;
        return new StepRouting(Tensor.of(p, n).to(dtype), Tensor.of(b, n), Tensor.of(c, n).to(dtype), pendingRows.clone());
    }

    private void checkRows(String op, RowSubset rows) {
        if (rows.batch() != batch || rows.isEmpty()) {
            throw new IllegalArgumentException("RoutingState." + op + ": " + rows + " for a state of " + batch + " rows (at least one row steps)");
        }
    }

    /**
     * Routes the new position of every row by a rule decided outside the routing module ({@code starts[r]}: row r
     * starts a chunk here), as {@link Routing} would hold it for such a rule: p = 1 at a chunk start and 0 elsewhere,
     * c = 1. A row's first position always starts a chunk. A state is routed either this way or by {@link #route}
     * throughout; q is not tracked here.
     */
    public StepRouting routeFixed(boolean[] starts) { return routeFixed(starts, RowSubset.all(batch)); }

    /** {@link #routeFixed(boolean[])} for the rows {@code rows} only ({@code starts[j]} for its j-th row); see {@link #route(Tensor, Tensor, RowSubset)}. */
    public StepRouting routeFixed(boolean[] starts, RowSubset rows) {
        checkOpen("routeFixed");
        if (pendingRows != null) throw new IllegalStateException("RoutingState.routeFixed: dechunk the previous step first");
        checkRows("routeFixed", rows);
        int n = rows.size();
        if (starts.length != n) {
            throw new IllegalArgumentException("RoutingState.routeFixed: one decision per row expected (" + n + "), got " + starts.length);
        }
        boolean[] b = new boolean[n];
        double[] p = new double[n], probs = new double[batch];
        float[] p32 = new float[batch];
        int[] local = new int[n];
        int m = 0;
        for (int j = 0; j < n; j++) {
            int r = rows.row(j);
            b[j] = starts[j] || !seen[r];
            seen[r] = true;
            p[j] = probs[r] = p32[r] = b[j] ? 1 : 0;
            if (b[j]) local[m++] = j;
        }
        pendingSubset = rows;
        pendingRows = Arrays.copyOf(local, m);
        Tensor pt, bt = Tensor.of(b, n), ct;
        try (Grad.Region g = Grad.noGrad()) {
            pt = Tensor.of(p, n).to(dtype);
            ct = Tensor.ones(dtype, n);
            if (!device.isCpu()) {
                pt = pt.to(device);
                bt = bt.to(device);
                ct = ct.to(device);
                rows.scatter(pStateD, pt);
            }
        }
        pendingP = vectorF32 ? p32 : null;
        pendingProbs = probs;
        return new StepRouting(pt, bt, ct, pendingRows.clone());
    }

    /**
     * CUDA route step; the n boundary bytes come back to the host for {@link StepRouting#boundaryRows()}. A subset's
     * state rows are gathered for the kernel and written back (a view, nothing copied, for one run of rows).
     */
    private StepRouting routeCuda(Tensor q, Tensor k, RowSubset rows) {
        int n = rows.size();
        int[] shape = {n};
        Tensor p = KernelSupport.allocate(dtype, shape, device), b = KernelSupport.allocate(DType.BOOL, shape, device);
        Tensor c = KernelSupport.allocate(dtype, shape, device);
        try (Grad.Region g = Grad.noGrad()) {
            Tensor qPrev = rows.gather(qPrevD), seenRows = rows.gather(seenD), pState = rows.gather(pStateD);
            ChunkRoutingCuda.routeStep(q.contiguous(), k.contiguous(), qPrev, seenRows, p, b, c, pState, n, dim);
            rows.scatter(qPrevD, qPrev);
            rows.scatter(seenD, seenRows);
            rows.scatter(pStateD, pState);
        }
        for (int j = 0; j < n; j++) seen[rows.row(j)] = true;
        byte[] bits = ChunkRoutingCuda.readBytes(b); // one small read per step
        int[] local = new int[n];
        int m = 0;
        for (int j = 0; j < n; j++) if (bits[j] != 0) local[m++] = j;
        pendingSubset = rows;
        pendingRows = Arrays.copyOf(local, m);
        return new StepRouting(p, b, c, pendingRows.clone());
    }

    /**
     * Takes the inner network's outputs for the boundary rows of the last {@link #route} ([m, D], in
     * {@link StepRouting#boundaryRows()} order; [0, D] or null when there are none) and returns the dechunked
     * output of every row that route stepped, [B, D] (or [n, D] for a subset of n rows).
     */
    public Tensor dechunk(Tensor zhat) {
        checkOpen("dechunk");
        if (pendingRows == null) throw new IllegalStateException("RoutingState.dechunk: call route first");
        int n = pendingRows.length;
        RowSubset rows = pendingSubset;
        boolean none = n == 0 && zhat == null;
        if (!none && (zhat == null || zhat.dim() != 2 || zhat.size(0) != n || zhat.size(1) != dim || zhat.dtype() != dtype)) {
            throw new IllegalArgumentException("RoutingState.dechunk: zhat must be " + dtype + " [" + n + ", " + dim
                    + "] (one row per boundary row " + Arrays.toString(pendingRows) + "), got "
                    + (zhat == null ? "null" : zhat.dtype() + " " + Arrays.toString(zhat.shape())));
        }
        if (!device.isCpu()) {
            if (!none && !zhat.device().equals(device)) {
                throw new IllegalArgumentException("RoutingState.dechunk: the state is on " + device + ", got zhat on " + zhat.device());
            }
            int[] slot = new int[rows.size()];
            Arrays.fill(slot, -1);
            for (int j = 0; j < n; j++) slot[pendingRows[j]] = j;
            Tensor out = KernelSupport.allocate(dtype, new int[] {rows.size(), dim}, device);
            try (Grad.Region g = Grad.noGrad()) {
                Tensor pState = rows.gather(pStateD), zbarRows = rows.gather(zbarD);
                ChunkRoutingCuda.dechunkStep(n == 0 ? null : zhat.contiguous(), slot, pState, zbarRows, out, rows.size(), dim, dtype);
                rows.scatter(zbarD, zbarRows);
            }
            pendingRows = null;
            pendingSubset = null;
            return out;
        }
        try (Grad.Region g = Grad.noGrad()) {
            if (n > 0 && vectorF32) {
                Tensor zc = zhat.contiguous();
                MemorySegment zs = KernelSupport.segment(zc);
                long zo = 4L * KernelSupport.offset(zc);
                for (int j = 0; j < n; j++) {
                    int r = rows.row(pendingRows[j]);
                    long row = 4L * r * dim;
                    DechunkKernel.emaRow(zs, zo + 4L * j * dim, zbar, row, DechunkKernel.smoothingProb(pendingP[r]), zbar, row, dim);
                }
            } else if (n > 0) {
                double[] zv = zhat.toDoubleArray();
                for (int j = 0; j < n; j++) {
                    int r = rows.row(pendingRows[j]);
                    double prob = ChunkRoutingReference.smoothingProb(pendingProbs[r]);
                    for (int i = 0; i < dim; i++) set(zbar, r * dim + i, ChunkRoutingReference.ema(prob, zv[j * dim + i], get(zbar, r * dim + i)));
                }
            }
        }
        pendingRows = null;
        pendingSubset = null;
        pendingP = null;
        pendingProbs = null;
        long rowBytes = (long) dim * dtype.byteSize();
        if (dtype == DType.F32) {
            float[] picked = new float[rows.size() * dim];
            for (int j = 0; j < rows.size(); j++) MemorySegment.copy(zbar, ValueLayout.JAVA_FLOAT, rows.row(j) * rowBytes, picked, j * dim, dim);
            return Tensor.of(picked, rows.size(), dim);
        }
        double[] picked = new double[rows.size() * dim];
        for (int j = 0; j < rows.size(); j++) MemorySegment.copy(zbar, ValueLayout.JAVA_DOUBLE, rows.row(j) * rowBytes, picked, j * dim, dim);
        return Tensor.of(picked, rows.size(), dim);
    }

    private double[] row(MemorySegment m, int r) {
        double[] v = new double[dim];
        for (int j = 0; j < dim; j++) v[j] = get(m, r * dim + j);
        return v;
    }

    private double get(MemorySegment m, long i) {
        return dtype == DType.F32 ? m.getAtIndex(ValueLayout.JAVA_FLOAT, i) : m.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
    }

    private void set(MemorySegment m, long i, double v) {
        if (dtype == DType.F32) m.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v);
        else m.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
    }
}
