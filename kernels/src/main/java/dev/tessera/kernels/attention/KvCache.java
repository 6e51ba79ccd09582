package dev.tessera.kernels.attention;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.RowSubset;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Keys and values of past positions for decoding, one row per sequence of a batch; rows may hold different numbers
 * of positions (prompts of different lengths, sequences that stopped).
 *
 * <p>Buffers are [B,Hkv,capacity,P]; row b's valid prefix has {@link #length(int)} positions. {@link #attend} runs
 * {@link FlashAttention} with {@code keyLengths} = the row lengths, so each row's queries are its last positions:
 * after appending T steps, queries [B,Hq,T,P] attend causally exactly as the same rows would in one full causal
 * forward. The buffers belong to the cache, whatever scope is open: {@link #close()} releases them.
 * Decoding is inference: the cache holds copies and records no gradient.
 */
public final class KvCache implements AutoCloseable {
    private final Tensor k, v;
    private final int[] length;
    private final int capacity;

    private KvCache(Tensor k, Tensor v) {
        this.k = k;
        this.v = v;
        this.length = new int[k.size(0)];
        this.capacity = k.size(2);
    }

    /** An empty cache of {@code batch} rows of up to {@code capacity} positions, on the CPU. */
    public static KvCache create(int batch, int kvHeads, int capacity, int headDim, DType dtype) {
        return create(batch, kvHeads, capacity, headDim, dtype, Device.cpu());
    }

    /** An empty cache on {@code device} (the device of the queries and new keys it will see). */
    public static KvCache create(int batch, int kvHeads, int capacity, int headDim, DType dtype, Device device) {
        if (batch < 1 || kvHeads < 1 || capacity < 1 || headDim < 1) {
            throw new IllegalArgumentException("kv_cache: batch, kvHeads, capacity and headDim must be ≥ 1, got " + batch + ", " + kvHeads + ", "
                    + capacity + ", " + headDim);
        }
        // Decoding spans many steps, each usually in a scope of its own: the buffers belong to the cache, not to a scope.
        return new KvCache(Scope.persist(Tensor.zeros(dtype, device, batch, kvHeads, capacity, headDim)),
                Scope.persist(Tensor.zeros(dtype, device, batch, kvHeads, capacity, headDim)));
    }

    /** Empties row b (its buffers are overwritten by what it appends next); the other rows keep theirs. */
    public void reset(int b) {
        java.util.Objects.checkIndex(b, length.length);
        length[b] = 0;
    }

    /** Positions held by row b. */
    public int length(int b) { return length[b]; }

    /** Positions held by every row. */
    public int[] lengths() { return length.clone(); }

    public int capacity() { return capacity; }

    /** Appends T new positions [B,Hkv,T,P] to every row. */
    public void append(Tensor kNew, Tensor vNew) {
        int[] all = new int[length.length];
        Arrays.fill(all, kNew.dim() == 4 ? kNew.size(2) : 0);
        append(kNew, vNew, all);
    }

    /** Appends the first {@code counts[b]} of the T new positions [B,Hkv,T,P] to row b (0 leaves the row as it is). */
    @SuppressWarnings("try") // the region only switches gradient recording off
    public void append(Tensor kNew, Tensor vNew, int[] counts) {
        int[] want = {k.size(0), k.size(1), kNew.dim() == 4 ? kNew.size(2) : -1, k.size(3)};
        if (!Arrays.equals(kNew.shape(), want) || !Arrays.equals(vNew.shape(), want)) {
            throw new IllegalArgumentException("kv_cache: new k and v must be [B,Hkv,T,P] = " + Arrays.toString(want).replace("-1", "T")
                    + ", got k " + Arrays.toString(kNew.shape()) + ", v " + Arrays.toString(vNew.shape()));
        }
        if (counts.length != length.length) throw new IllegalArgumentException("kv_cache: counts needs one entry per row (" + length.length + ")");
        for (int b = 0; b < length.length; b++) {
            if (counts[b] < 0 || counts[b] > want[2]) throw new IllegalArgumentException("kv_cache: counts " + Arrays.toString(counts) + " must lie in [0, T = " + want[2] + "]");
            if (length[b] + counts[b] > capacity) {
                throw new IllegalStateException("kv_cache: row " + b + " holds " + length[b] + " positions; " + counts[b] + " more exceed the capacity " + capacity);
            }
        }
        try (Grad.Region g = Grad.noGrad()) {
            for (int b = 0; b < length.length; b++) {
                int c = counts[b];
                if (c == 0) continue;
                k.select(0, b).narrow(1, length[b], c).copyFrom(kNew.select(0, b).narrow(1, 0, c));
                v.select(0, b).narrow(1, length[b], c).copyFrom(vNew.select(0, b).narrow(1, 0, c));
                length[b] += c;
            }
        }
    }

    /**
     * Appends T new positions [n,Hkv,T,P] to the rows in {@code rows} (n of them, in order); other rows keep what
     * they hold. Rows may then hold different numbers of positions.
     */
    @SuppressWarnings("try") // the region only switches gradient recording off
    public void append(Tensor kNew, Tensor vNew, RowSubset rows) {
        checkRows("append", rows);
        int[] want = {rows.size(), k.size(1), kNew.dim() == 4 ? kNew.size(2) : -1, k.size(3)};
        if (!Arrays.equals(kNew.shape(), want) || !Arrays.equals(vNew.shape(), want)) {
            throw new IllegalArgumentException("kv_cache: new k and v for " + rows + " must be [n,Hkv,T,P] = " + Arrays.toString(want).replace("-1", "T")
                    + ", got k " + Arrays.toString(kNew.shape()) + ", v " + Arrays.toString(vNew.shape()));
        }
        int t = want[2];
        for (int j = 0; j < rows.size(); j++) {
            int b = rows.row(j);
            if (length[b] + t > capacity) {
                throw new IllegalStateException("kv_cache: row " + b + " holds " + length[b] + " positions; " + t + " more exceed the capacity " + capacity);
            }
        }
        try (Grad.Region g = Grad.noGrad()) {
            for (int j = 0; j < rows.size(); j++) {
                int b = rows.row(j);
                k.select(0, b).narrow(1, length[b], t).copyFrom(kNew.select(0, j));
                v.select(0, b).narrow(1, length[b], t).copyFrom(vNew.select(0, j));
                length[b] += t;
            }
        }
    }

    private void checkRows(String op, RowSubset rows) {
        if (rows.batch() != length.length) {
            throw new IllegalArgumentException("kv_cache " + op + ": " + rows + " for a cache of " + length.length + " rows");
        }
    }

    /** Causal attention of queries [B,Hq,T,P] (each row's last T positions) over the cached keys. */
    public Tensor attend(Tensor q) { return attend(q, AttentionOptions.builder().causal(true).build()); }

    /**
     * Attention of queries [B,Hq,T,P] over the cached keys with the given options (causal, window, scale...);
     * the key lengths are the cache's own.
     */
    public Tensor attend(Tensor q, AttentionOptions o) { return attendRows(q, o, 0, length.length); }

    /**
     * Attention of queries [n,Hq,T,P] of the rows in {@code rows} (n of them, in order) over those rows' cached
     * keys; other rows are not read. Each run of consecutive rows is one attention over a view of the buffers.
     */
    public Tensor attend(Tensor q, AttentionOptions o, RowSubset rows) {
        checkRows("attend", rows);
        if (q.dim() != 4 || q.size(0) != rows.size()) {
            throw new IllegalArgumentException("kv_cache: queries must be [" + rows.size() + ",Hq,T,P] for " + rows + ", got " + Arrays.toString(q.shape()));
        }
        if (rows.isAll()) return attend(q, o);
        if (rows.runs() == 1) return attendRows(q, o, rows.runStart(0), rows.runLength(0));
        List<Tensor> parts = new ArrayList<>(rows.runs());
        int at = 0;
        for (int r = 0; r < rows.runs(); r++) {
            parts.add(attendRows(q.narrow(0, at, rows.runLength(r)), o, rows.runStart(r), rows.runLength(r)));
            at += rows.runLength(r);
        }
        return Tensor.cat(parts, 0);
    }

    /** Queries [count,Hq,T,P] of rows first..first+count−1 over their keys (views of the buffers, nothing copied). */
    @SuppressWarnings("try") // the region only switches gradient recording off
    private Tensor attendRows(Tensor q, AttentionOptions o, int first, int count) {
        int[] lengths = Arrays.copyOfRange(length, first, first + count);
        int used = Math.max(1, Arrays.stream(lengths).max().orElse(1));
        Tensor kRows = count == length.length ? k : k.narrow(0, first, count), vRows = count == length.length ? v : v.narrow(0, first, count);
        Tensor kk = kRows.narrow(2, 0, used), vv = vRows.narrow(2, 0, used);
        AttentionOptions withLengths = o.toBuilder().keyLengths(lengths).build();
        if (!q.device().isCpu() && !(Grad.isEnabled() && q.requiresGrad())) {
            // One query per row on CUDA: the decode kernel reads the cache buffers in place (no copy of the prefix).
            Geometry g = Geometry.of(q, kk, vv, withLengths);
            if (FlashAttentionCuda.decodeEligible(g)) {
                try (Grad.Region r = Grad.noGrad()) {
                    Tensor out = KernelSupport.allocate(g.dtype, q.shape(), q.device());
                    Tensor lse = KernelSupport.allocate(FlashAttentionCuda.accType(g.dtype), new int[] {g.batch, g.qHeads, 1}, q.device());
                    FlashAttentionCuda.decode(g, q.contiguous(), kRows, vRows, capacity, out, lse);
                    return out;
                }
            }
        }
        return FlashAttention.apply(q, kk, vv, withLengths);
    }

    /** Appends one decoding step's k, v [B,Hkv,T,P] to every row and attends with its queries [B,Hq,T,P], causally. */
    public Tensor step(Tensor q, Tensor kNew, Tensor vNew) {
        append(kNew, vNew);
        return attend(q);
    }

    /** Releases the buffers. */
    @Override
    public void close() {
        k.close();
        v.close();
    }
}
