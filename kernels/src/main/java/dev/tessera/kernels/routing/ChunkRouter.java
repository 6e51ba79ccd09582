package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.util.Arrays;

/**
 * H-Net's dynamic chunking (arXiv 2507.07955 §2.2), following the reference code's conventions: route, chunk,
 * dechunk and the ratio loss of one stage, differentiable, on F32 (fast, Vector API, parallel) and F64 (the
 * readable reference, for gradient checks; F32 runs it too, on widened copies, when the {@code jdk.incubator.vector}
 * module is absent). Decoding one byte at a time uses {@link RoutingState}. CUDA tensors run
 * the kernels of native/cuda/kernels/chunk_routing.cu (F32, F64, BF16) end to end and every result stays on their
 * device; {@link #chunk} reads the per-row chunk counts back once per call, since they size its output, and hands
 * them on in {@link Chunks#counts()} so that the dechunk and a nested stage's routing need not read them again.
 *
 * <p>Shapes: q, k, x̂ and the dechunked output [B, L, D]; p, b, c [B, L]; the inner network's input and output
 * [B, M, D]. Two ways to batch sequences: padded rows with a [B, L] BOOL mask (each row's true positions one run),
 * or packed into one row (B = 1) with {@code cuSeqlens} [S+1]; every sequence start is a boundary (p = 1) and the
 * dechunk EMA restarts there, so a packed batch gives exactly the per-sequence results.
 *
 * <pre>{@code
 * Routing r = ChunkRouter.route(wq.apply(xh), wk.apply(xh), mask);
 * Chunks ch = ChunkRouter.chunk(xh, r.b());
 * Tensor zh = inner.apply(ch.x(), ch.mask());
 * Tensor z = ChunkRouter.dechunk(zh, ch, r.p(), r.c()).add(residual);
 * Tensor loss = ce.add(ChunkRouter.ratioLoss(r.b(), r.p(), 6, mask).mul(0.03));
 * }</pre>
 */
public final class ChunkRouter {
    private ChunkRouter() {}

    /** {@link #route(Tensor, Tensor, Tensor)} with every position real. */
    public static Routing route(Tensor q, Tensor k) { return route(q, k, null); }

    /**
     * Boundary probabilities from the cosine of consecutive projections (eq. 4, with the code's q on x̂_{t−1}):
     * cos_t = ⟨q_{t−1}/‖q_{t−1}‖, k_t/‖k_t‖⟩ (norms floored at 1e−12), p_t = clamp((1 − cos_t)/2, 0, 1),
     * p = 1 at each sequence start (t = 0, or the first true position of a mask row), b_t = p_t > 0.5 (0.5 exactly is
     * no boundary, as the code's argmax), c_t = max(p_t, 1 − p_t). Padding (mask false) has p = 0, b = 0, c = 1 and
     * no gradient. Backward: dp (and dc, through p) → dq_{t−1}, dk_t.
     *
     * @param q    [B, L, D] F32 or F64, W_q·x̂
     * @param k    [B, L, D] same dtype, W_k·x̂
     * @param mask [B, L] BOOL or null (all real)
     */
    public static Routing route(Tensor q, Tensor k, Tensor mask) {
        checkQk("route", q, k);
        checkDevice("route", q, k);
        Layout layout = mask == null ? Layout.rows(q.size(0), q.size(1)) : Layout.fromMask("route", mask, q.size(0), q.size(1));
        return RouteOp.apply(q, k, layout);
    }

    /**
     * {@link #route(Tensor, Tensor, Tensor)} of a nested stage, whose q and k [B, M, D] run over the chunks {@code of}
     * an outer stage: row r is real for its first {@code of.counts()[r]} positions (as {@code of.mask()} says). The
     * padding is taken from the host's copy of the counts, so nothing is read back from the device.
     */
    public static Routing routeChunks(Tensor q, Tensor k, Chunks of) {
        checkQk("route", q, k);
        checkDevice("route", q, k);
        checkPadded("route", of);
        if (q.size(0) != of.rows() || q.size(1) != of.x().size(1)) {
            throw new IllegalArgumentException("route: q " + shape(q) + " must run over the chunks " + shape(of.x())
                    + " it is routed on ([B, M, D] with the same B and M)");
        }
        return RouteOp.apply(q, k, Layout.rightPadded(q.size(0), q.size(1), of.counts()));
    }

    /** {@link #route(Tensor, Tensor, Tensor)} for packed sequences: q, k [1, T, D], cuSeqlens [S+1] (I32/I64). */
    public static Routing routePacked(Tensor q, Tensor k, Tensor cuSeqlens) {
        checkQk("route", q, k);
        checkDevice("route", q, k);
        return RouteOp.apply(q, k, Layout.fromCuSeqlens("route", cuSeqlens, q.size(0), q.size(1)));
    }

    /**
     * Keeps the rows of x̂ where b = 1, in order, per row: [B, M, D] padded to the largest count M, with the mask,
     * lengths and prefix-sum index of {@link Chunks}. Backward scatters the gradient back to the boundary rows
     * (zeros elsewhere).
     *
     * @param x [B, L, D] floating
     * @param b [B, L] BOOL
     */
    public static Chunks chunk(Tensor x, Tensor b) {
        checkChunk(x, b);
        return ChunkOp.apply(x, b, null);
    }

    /** {@link #chunk} of packed sequences: x [1, T, D] → [1, T', D]; lengths and cuSeqlens are per sequence. */
    public static Chunks chunkPacked(Tensor x, Tensor b, Tensor cuSeqlens) {
        checkChunk(x, b);
        Layout.fromCuSeqlens("chunk", cuSeqlens, x.size(0), x.size(1)); // validates
        return ChunkOp.apply(x, b, cuSeqlens.toLongArray());
    }

    /**
     * Smoothing and upsampling (eqs. 5–9): P_k = clamp(p at the k-th boundary, 1e−4, 1 − 1e−4);
     * z̄_k = P_k·ẑ_k + (1 − P_k)·z̄_{k−1} over each row's chunks (z̄ = 0 before the first);
     * out_t = z̄[cumsum(b)_t − 1] · STE(c_t), with STE(c) = c + stopgrad(1 − c): 1 forward (exactly: the output is z̄),
     * backward dc_t = ⟨dout_t, z̄⟩. Positions before a row's first boundary (left padding) get 0; right padding
     * repeats the last z̄. Backward: dẑ and dP by a reverse scan, dP reaching p at the boundaries where the clamp
     * is inactive.
     *
     * @param zhat [B, M, D] the inner network's output, M ≥ every row's count of b
     * @param p    [B, L] boundary probabilities (same dtype as zhat)
     * @param b    [B, L] BOOL boundaries
     * @param c    [B, L] confidences (same dtype); only their gradient is used
     */
    public static Tensor dechunk(Tensor zhat, Tensor p, Tensor b, Tensor c) {
        checkDechunk(zhat, p, b, c, null);
        return DechunkOp.apply(zhat, p, b, c, Layout.rows(p.size(0), p.size(1)));
    }

    /**
     * {@link #dechunk(Tensor, Tensor, Tensor, Tensor)} at the boundaries {@code chunks} were taken at
     * ({@code chunks.boundaries()}): their counts, already on the host, check that ẑ holds every row's chunks, so
     * nothing is read back from the device (the four-tensor form has to read the counts to check that).
     */
    public static Tensor dechunk(Tensor zhat, Chunks chunks, Tensor p, Tensor c) {
        checkPadded("dechunk", chunks);
        Tensor b = chunks.boundaries();
        checkDechunk(zhat, p, b, c, chunks.counts());
        return DechunkOp.apply(zhat, p, b, c, Layout.rows(p.size(0), p.size(1)));
    }

    /** {@link #dechunk} of packed sequences: ẑ [1, T', D], p, b, c [1, T]; the EMA restarts at every sequence start. */
    public static Tensor dechunkPacked(Tensor zhat, Tensor p, Tensor b, Tensor c, Tensor cuSeqlens) {
        checkDechunk(zhat, p, b, c, null);
        return DechunkOp.apply(zhat, p, b, c, Layout.fromCuSeqlens("dechunk", cuSeqlens, p.size(0), p.size(1)));
    }

    /** {@link #ratioLoss(Tensor, Tensor, double, Tensor)} with every position real. */
    public static Tensor ratioLoss(Tensor b, Tensor p, double n) { return ratioLoss(b, p, n, null); }

    /**
     * The ratio loss of one stage (eq. 10): F = mean(b), G = mean(p) over the real positions,
     * L = N/(N−1)·((N−1)·F·G + (1 − F)·(1 − G)); minimal (1) at F = G = 1/N. Plain tensor ops, differentiable
     * through G (b is not). Nothing is read back from the device: the count of real positions is divided by where
     * it is summed. A mask with no real position is refused on the CPU; on a GPU it gives NaN (finding out would wait).
     *
     * @param n the target compression ratio N &gt; 1
     */
    public static Tensor ratioLoss(Tensor b, Tensor p, double n, Tensor mask) {
        if (!(n > 1)) throw new IllegalArgumentException("ratioLoss: the target ratio N must be > 1, got " + n);
        if (b.dtype() != DType.BOOL || !Arrays.equals(b.shape(), p.shape()) || !p.dtype().isFloating()) {
            throw new IllegalArgumentException("ratioLoss: b must be BOOL and p floating of the same shape, got b " + b.dtype() + " "
                    + Arrays.toString(b.shape()) + " and p " + p.dtype() + " " + Arrays.toString(p.shape()));
        }
        Tensor bf = b.to(p.dtype()), pm = p, real = null;
        double count = p.numel();
        if (mask != null) {
            if (mask.dtype() != DType.BOOL || !Arrays.equals(mask.shape(), p.shape())) {
                throw new IllegalArgumentException("ratioLoss: mask must be BOOL " + Arrays.toString(p.shape()) + ", got "
                        + mask.dtype() + " " + Arrays.toString(mask.shape()));
            }
            Tensor m = mask.to(p.dtype());
            bf = bf.mul(m);
            pm = p.mul(m);
            real = m.sum(); // divided by on the device: counting on the host would wait for it
            if (mask.device().isCpu() && real.item() == 0) count = 0;
        }
        if (count == 0) throw new IllegalArgumentException("ratioLoss: no real positions in " + Arrays.toString(p.shape()));
        Tensor f = real == null ? bf.sum().div(count) : bf.sum().div(real), g = real == null ? pm.sum().div(count) : pm.sum().div(real);
        Tensor both = f.mul(g).mul(n - 1), neither = f.neg().add(1).mul(g.neg().add(1));
        return both.add(neither).mul(n / (n - 1));
    }

    // ------------------------------------------------------------------ argument checks

    private static String shape(Tensor t) { return Arrays.toString(t.shape()); }

    private static void checkFloat(String op, String name, Tensor t) {
        boolean cuda = !t.device().isCpu();
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64 && !(cuda && ChunkRoutingCuda.supports(t.dtype()))) {
            throw new IllegalArgumentException(op + ": " + name + " must be F32 or F64 (BF16 too on CUDA), got " + t.dtype() + " "
                    + shape(t) + " on " + t.device());
        }
    }

    /** Every tensor given (nulls skipped) must be on {@code first}'s device. */
    private static void checkDevice(String op, Tensor first, Tensor... others) {
        for (Tensor t : others) {
            if (t != null && !t.device().equals(first.device())) {
                throw new IllegalArgumentException(op + ": all tensors must be on one device, got " + first.device() + " and "
                        + t.device() + " (" + t.dtype() + " " + shape(t) + ")");
            }
        }
    }

    private static void checkQk(String op, Tensor q, Tensor k) {
        if (q.dim() != 3) throw new IllegalArgumentException(op + ": q must be [B, L, D], got " + shape(q));
        if (!Arrays.equals(q.shape(), k.shape()) || q.dtype() != k.dtype()) {
            throw new IllegalArgumentException(op + ": q " + q.dtype() + " " + shape(q) + " and k " + k.dtype() + " " + shape(k)
                    + " must have the same dtype and shape [B, L, D]");
        }
        checkFloat(op, "q", q);
    }

    private static void checkBool(String op, String name, Tensor t, int batch, int len) {
        if (t.dtype() != DType.BOOL || t.dim() != 2 || t.size(0) != batch || t.size(1) != len) {
            throw new IllegalArgumentException(op + ": " + name + " must be BOOL [B, L] = [" + batch + ", " + len + "], got "
                    + t.dtype() + " " + shape(t));
        }
    }

    private static void checkChunk(Tensor x, Tensor b) {
        if (x.dim() != 3 || !x.dtype().isFloating()) {
            throw new IllegalArgumentException("chunk: x must be floating [B, L, D], got " + x.dtype() + " " + shape(x));
        }
        checkBool("chunk", "b", b, x.size(0), x.size(1));
        checkDevice("chunk", x, b);
        if (!x.device().isCpu() && x.size(0) > 0 && x.size(1) > 0 && x.size(2) == 0) {
            throw new IllegalArgumentException("chunk: D = 0 is not supported on CUDA, got " + shape(x));
        }
    }

    /** Chunks of padded rows (from {@link #chunk}), not of packed sequences (those take the cuSeqlens forms). */
    private static void checkPadded(String op, Chunks chunks) {
        if (chunks.lengths().size(0) != chunks.rows()) {
            throw new IllegalArgumentException(op + ": these chunks hold " + chunks.lengths().size(0) + " packed sequences in "
                    + chunks.rows() + " row(s); use the packed form with their cuSeqlens");
        }
    }

    /** {@code counts}: the chunks per row when the host knows them, else null (then read from b). */
    private static void checkDechunk(Tensor zhat, Tensor p, Tensor b, Tensor c, long[] counts) {
        if (zhat.dim() != 3) throw new IllegalArgumentException("dechunk: zhat must be [B, M, D], got " + shape(zhat));
        checkFloat("dechunk", "zhat", zhat);
        if (p.dim() != 2 || p.size(0) != zhat.size(0) || p.dtype() != zhat.dtype()) {
            throw new IllegalArgumentException("dechunk: p must be " + zhat.dtype() + " [B, L] with B = " + zhat.size(0) + " (zhat "
                    + shape(zhat) + "), got " + p.dtype() + " " + shape(p));
        }
        if (!Arrays.equals(c.shape(), p.shape()) || c.dtype() != p.dtype()) {
            throw new IllegalArgumentException("dechunk: c " + c.dtype() + " " + shape(c) + " must match p " + p.dtype() + " " + shape(p));
        }
        checkBool("dechunk", "b", b, p.size(0), p.size(1));
        checkDevice("dechunk", zhat, p, b, c);
        long[] count = counts != null ? counts : b.to(DType.I64).sum(new int[] {1}, false).toLongArray();
        for (int r = 0; r < count.length; r++) {
            if (count[r] > zhat.size(1)) {
                throw new IllegalArgumentException("dechunk: row " + r + " of b has " + count[r] + " boundaries but zhat " + shape(zhat)
                        + " holds only M = " + zhat.size(1) + " chunks per row");
            }
        }
    }
}
