package dev.tessera.kernels.attention;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.util.Arrays;

/**
 * One attention call's shapes and masks, validated and free of tensors (the backward closure captures it, and
 * saved data reaches a backward only through its {@code saved} tensors).
 *
 * <p>Every mask except the elementwise ones (−∞ key bias, keys that do not exist) makes the keys a query sees one
 * contiguous range {@code [lo, hi)}; the tiled kernels walk only the key tiles such ranges touch.
 */
final class Geometry {
    static final String OP = "flash_attention";

    final int batch, qHeads, kvHeads, qLen, kLen, headDim;
    final double scale;
    final boolean causal;
    final int window;
    /** Valid keys per batch row. */
    final int[] keyLength;
    /** Document of each packed position, or null. */
    final int[] docId;
    /** First and one-past-last packed position of each position's document, or null (the CUDA kernels take these). */
    final int[] docStart, docEnd;
    /** The packed documents' boundaries {0, …, Lk}, or null. */
    final int[] cuSeqlens;
    /** 0: no key bias; 1: [B,Lk] shared by the heads; Hq: [B,Hq,Lk]. */
    final int biasHeads;
    /** Existence mode (Zonkey); {@code crossExistence} when queries and keys carry different log p. */
    final boolean existence, crossExistence;
    final DType dtype;

    private Geometry(Tensor q, Tensor k, AttentionOptions o) {
        int[] qs = q.shape(), ks = k.shape();
        batch = qs[0];
        qHeads = qs[1];
        qLen = qs[2];
        headDim = qs[3];
        kvHeads = ks[1];
        kLen = ks[2];
        dtype = q.dtype();
        scale = Double.isNaN(o.scale()) ? 1 / Math.sqrt(headDim) : o.scale();
        causal = o.causal();
        window = o.window();
        keyLength = o.keyLengths() == null ? filled(batch, kLen) : o.keyLengths().clone();
        cuSeqlens = o.cuSeqlens() == null ? null : o.cuSeqlens().clone();
        if (cuSeqlens != null) {
            int[] c = cuSeqlens;
            docId = new int[kLen];
            docStart = new int[kLen];
            docEnd = new int[kLen];
            for (int d = 0; d + 1 < c.length; d++) {
                for (int t = c[d]; t < c[d + 1]; t++) {
                    docId[t] = d;
                    docStart[t] = c[d];
                    docEnd[t] = c[d + 1];
                }
            }
        } else {
            docId = docStart = docEnd = null;
        }
        biasHeads = o.keyBias() == null ? 0 : o.keyBias().dim() == 2 ? 1 : qHeads;
        existence = o.logpQ() != null;
        crossExistence = existence && o.logpQ() != o.logpK();
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }

    /**
     * The starts of the tiles of {@code size} positions that cover {@code [0, length)}: every {@code size} positions,
     * or with packed documents every {@code size} positions from each document's start, so that no tile spans two
     * documents (a tile across a boundary computes scores that its causal mask then throws away; at H-Net's chunk
     * lengths, about one tile per document, that was two thirds of the work). The last entry is {@code length}.
     */
    int[] tileStarts(int length, int size) {
        int[] c = cuSeqlens == null ? new int[] {0, length} : cuSeqlens;
        int n = 0;
        for (int d = 0; d + 1 < c.length; d++) n += (c[d + 1] - c[d] + size - 1) / size;
        int[] starts = new int[n + 1];
        int i = 0;
        for (int d = 0; d + 1 < c.length; d++) for (int t = c[d]; t < c[d + 1]; t += size) starts[i++] = t;
        starts[n] = length;
        return starts;
    }

    /** Query heads per key/value head (GQA). */
    int group() { return qHeads / kvHeads; }

    /** Position of query 0 of batch row b: queries are the last Lq positions of the row's keys. */
    int queryOffset(int b) { return keyLength[b] - qLen; }

    /** First key query i of row b may see (before elementwise masks). */
    int lo(int b, int i) {
        int t = i + queryOffset(b);
        int lo = docStart == null ? 0 : docStart[i];
        if (window >= 0) lo = Math.max(lo, t - window);
        return Math.min(Math.max(lo, 0), kLen);
    }

    /** One past the last key query i of row b may see; {@code hi ≤ lo} means none. */
    int hi(int b, int i) {
        int t = i + queryOffset(b);
        int hi = keyLength[b];
        if (docEnd != null) hi = Math.min(hi, docEnd[i]);
        if (causal) hi = Math.min(hi, t + 1);
        else if (window >= 0) hi = Math.min(hi, t + window + 1);
        return Math.max(hi, lo(b, i));
    }

    /** Validates the arguments of an attention call (naming the argument and the shapes) and resolves them. */
    static Geometry of(Tensor q, Tensor k, Tensor v, AttentionOptions o) {
        if (q == null || k == null || v == null) throw new IllegalArgumentException(OP + ": q, k and v are required");
        if (o == null) throw new IllegalArgumentException(OP + ": options are required (AttentionOptions.defaults())");
        for (Tensor t : new Tensor[] {q, k, v}) {
            if (t.dim() != 4) {
                throw new IllegalArgumentException(OP + ": q must be [B,Hq,Lq,P] and k, v [B,Hkv,Lk,P]; got q " + str(q)
                        + ", k " + str(k) + ", v " + str(v));
            }
        }
        if (!k.device().equals(q.device()) || !v.device().equals(q.device())) {
            throw new IllegalArgumentException(OP + ": q, k, v must be on one device, got " + q.device() + ", " + k.device() + ", " + v.device());
        }
        boolean cuda = !q.device().isCpu();
        if (q.dtype() != DType.F32 && q.dtype() != DType.F64 && !(cuda && q.dtype() == DType.BF16)) {
            throw new IllegalArgumentException(OP + ": q must be F32 or F64 (BF16 too on CUDA), got " + q.dtype() + " on " + q.device());
        }
        if (k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
            throw new IllegalArgumentException(OP + ": q, k, v must share a dtype, got " + q.dtype() + ", " + k.dtype() + ", " + v.dtype());
        }
        int[] qs = q.shape(), ks = k.shape();
        if (!Arrays.equals(ks, v.shape())) {
            throw new IllegalArgumentException(OP + ": k " + str(k) + " and v " + str(v) + " must have the same shape");
        }
        if (ks[0] != qs[0] || ks[3] != qs[3]) {
            throw new IllegalArgumentException(OP + ": batch and head dim of q " + str(q) + " and k " + str(k) + " differ");
        }
        for (int d : qs) if (d < 1) throw new IllegalArgumentException(OP + ": q " + str(q) + " has an empty dimension");
        for (int d : ks) if (d < 1) throw new IllegalArgumentException(OP + ": k " + str(k) + " has an empty dimension");
        if (qs[1] % ks[1] != 0) {
            throw new IllegalArgumentException(OP + ": query heads " + qs[1] + " (q " + str(q) + ") must be a multiple of key/value heads "
                    + ks[1] + " (k " + str(k) + ")");
        }
        int bsz = qs[0], hq = qs[1], lq = qs[2], lk = ks[2];
        if (!Double.isNaN(o.scale()) && !(Double.isFinite(o.scale()))) {
            throw new IllegalArgumentException(OP + ": scale must be finite, got " + o.scale());
        }
        if (o.window() < -1) throw new IllegalArgumentException(OP + ": window must be ≥ 0 or −1 (none), got " + o.window());
        Tensor bias = o.keyBias();
        if (bias != null) {
            boolean ok = bias.dtype().isFloating() && (Arrays.equals(bias.shape(), new int[] {bsz, lk})
                    || Arrays.equals(bias.shape(), new int[] {bsz, hq, lk}));
            if (!ok) {
                throw new IllegalArgumentException(OP + ": keyBias must be floating [B,Lk] = [" + bsz + ", " + lk + "] or [B,Hq,Lk] = ["
                        + bsz + ", " + hq + ", " + lk + "], got " + str(bias) + " " + bias.dtype());
            }
        }
        if (o.keyLengths() != null) {
            int[] l = o.keyLengths();
            if (l.length != bsz) throw new IllegalArgumentException(OP + ": keyLengths needs one entry per batch row (" + bsz + "), got " + l.length);
            for (int x : l) {
                if (x < 0 || x > lk) throw new IllegalArgumentException(OP + ": keyLengths " + Arrays.toString(l) + " must lie in [0, Lk = " + lk + "]");
            }
        }
        if (o.cuSeqlens() != null) {
            int[] c = o.cuSeqlens();
            if (lq != lk) throw new IllegalArgumentException(OP + ": cuSeqlens needs Lq = Lk, got q " + str(q) + " and k " + str(k));
            if (o.keyLengths() != null) throw new IllegalArgumentException(OP + ": cuSeqlens and keyLengths cannot be combined");
            boolean ok = c.length >= 2 && c[0] == 0 && c[c.length - 1] == lk;
            for (int i = 1; ok && i < c.length; i++) ok = c[i] >= c[i - 1];
            if (!ok) {
                throw new IllegalArgumentException(OP + ": cuSeqlens " + Arrays.toString(c) + " must rise from 0 to the packed length " + lk);
            }
        }
        if (o.logpQ() != null || o.logpK() != null) {
            Tensor lpq = o.logpQ(), lpk = o.logpK();
            if (lpq == null || lpk == null) throw new IllegalArgumentException(OP + ": existence mode needs both logpQ and logpK");
            if (lpq == lpk && lq != lk) {
                throw new IllegalArgumentException(OP + ": self-attention existence needs Lq = Lk, got q " + str(q) + " and k " + str(k)
                        + "; pass the queries' and the keys' log p for cross-attention");
            }
            if (!lpq.dtype().isFloating() || !Arrays.equals(lpq.shape(), new int[] {bsz, lq})) {
                throw new IllegalArgumentException(OP + ": logp of the queries must be floating [B,Lq] = [" + bsz + ", " + lq + "], got "
                        + str(lpq) + " " + lpq.dtype());
            }
            if (!lpk.dtype().isFloating() || !Arrays.equals(lpk.shape(), new int[] {bsz, lk})) {
                throw new IllegalArgumentException(OP + ": logp of the keys must be floating [B,Lk] = [" + bsz + ", " + lk + "], got "
                        + str(lpk) + " " + lpk.dtype());
            }
        }
        return new Geometry(q, k, o);
    }

    static String str(Tensor t) { return Arrays.toString(t.shape()); }
}
