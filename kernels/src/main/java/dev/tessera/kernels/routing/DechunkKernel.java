package dev.tessera.kernels.routing;

import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast F32 dechunk: the EMA over chunks fused with the upsample, parallel over sequences, Vector API across D.
 * Same math as {@link ChunkRoutingReference#dechunk} and {@link ChunkRoutingReference#dechunkBackward}.
 *
 * <p>Forward writes z̄_k straight into the output row of the boundary position that opens chunk k and copies it to
 * the following positions, so the output is the only full-size write. Backward is one reverse pass per sequence:
 * an accumulator row carries dz̄ (the gather-add of the upsample plus (1 − P)·dz̄ of the next chunk).
 */
final class DechunkKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final float P_MIN = (float) ChunkRoutingReference.P_MIN, P_MAX = 1f - P_MIN;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private DechunkKernel() {}

    /** P = clamp(p, 1e−4, 1 − 1e−4) in F32. */
    static float smoothingProb(float p) { return Math.min(P_MAX, Math.max(P_MIN, p)); }

    /**
     * The sequences of the batch as quadruples (row, first position, end position, row-local index of its first
     * chunk): a sequence ends where the next starts (the layout's START flags) or at the row's end.
     */
    static int[] sequences(Layout layout, byte[] b) {
        int len = layout.length;
        int[] out = new int[16];
        int n = 0;
        for (int r = 0; r < layout.batch; r++) {
            int chunks = 0, start = 0, first = 0;
            for (int t = 0; t <= len; t++) {
                if (t == len || (t > 0 && layout.start(r * len + t))) {
                    if (n + 4 > out.length) out = Arrays.copyOf(out, out.length * 2);
                    out[n++] = r;
                    out[n++] = start;
                    out[n++] = t;
                    out[n++] = first;
                    start = t;
                    first = chunks;
                }
                if (t < len && b[r * len + t] != 0) chunks++;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** dst = P·ẑ + (1 − P)·prev, rows at byte offsets; {@code prevB < 0} means prev = 0. dst may alias prev. */
    static void emaRow(MemorySegment zh, long zhB, MemorySegment prev, long prevB, float prob, MemorySegment dst, long dstB, int d) {
        float keep = 1f - prob;
        FloatVector vp = FloatVector.broadcast(S, prob), vk = FloatVector.broadcast(S, keep);
        int j = 0, upper = S.loopBound(d);
        for (; j < upper; j += S.length()) {
            FloatVector z = FloatVector.fromMemorySegment(S, zh, zhB + 4L * j, NATIVE);
            FloatVector v = prevB < 0 ? FloatVector.zero(S) : FloatVector.fromMemorySegment(S, prev, prevB + 4L * j, NATIVE);
            z.fma(vp, v.mul(vk)).intoMemorySegment(dst, dstB + 4L * j, NATIVE);
        }
        for (; j < d; j++) {
            float v = prevB < 0 ? 0f : prev.get(ValueLayout.JAVA_FLOAT, prevB + 4L * j);
            dst.set(ValueLayout.JAVA_FLOAT, dstB + 4L * j, Math.fma(zh.get(ValueLayout.JAVA_FLOAT, zhB + 4L * j), prob, v * keep));
        }
    }

    /**
     * out [B, L, D] (fresh, zero-filled) from ẑ [B, M, D] and p [B, L] (contiguous, element offsets); when
     * {@code zbar} is not null it also receives z̄ of every chunk ([B, M, D], fresh) for the backward.
     */
    static void forward(MemorySegment zh, long zhOff, MemorySegment p, long pOff, byte[] b, int[] seqs, int len, int m, int d,
                        MemorySegment out, MemorySegment zbar) {
        KernelSupport.parallelFor(seqs.length / 4, 1, (s, e) -> {
            for (int q = (int) s; q < e; q++) {
                int r = seqs[4 * q], k = seqs[4 * q + 3];
                long prev = -1;
                for (int t = seqs[4 * q + 1]; t < seqs[4 * q + 2]; t++) {
                    int i = r * len + t;
                    long o = 4L * i * d;
                    if (b[i] != 0) {
                        float prob = smoothingProb(p.getAtIndex(ValueLayout.JAVA_FLOAT, pOff + i));
                        long zrow = (long) r * m + k;
                        emaRow(zh, 4L * (zhOff + zrow * d), out, prev, prob, out, o, d);
                        if (zbar != null) MemorySegment.copy(out, o, zbar, 4L * zrow * d, 4L * d);
                        prev = o;
                        k++;
                    } else if (prev >= 0) {
                        MemorySegment.copy(out, prev, out, o, 4L * d);
                    }
                }
            }
        });
    }

    /** dẑ [B, M, D], dp and dc [B, L] (fresh, zero-filled) from dout (contiguous [B, L, D] at {@code doutOff}). */
    static void backward(MemorySegment zh, long zhOff, MemorySegment p, long pOff, byte[] b, int[] seqs, int len, int m, int d,
                         MemorySegment zbar, MemorySegment dout, long doutOff, MemorySegment dzh, MemorySegment dp, MemorySegment dc) {
        KernelSupport.parallelFor(seqs.length / 4, 1, (s, e) -> {
            float[] acc = new float[d];
            for (int q = (int) s; q < e; q++) {
                int r = seqs[4 * q], ps = seqs[4 * q + 1], pe = seqs[4 * q + 2], first = seqs[4 * q + 3];
                int k = first - 1;
                for (int t = ps; t < pe; t++) if (b[r * len + t] != 0) k++;
                Arrays.fill(acc, 0f);
                for (int t = pe - 1; t >= ps && k >= first; t--) {
                    int i = r * len + t;
                    long zrow = (long) r * m + k;
                    dc.setAtIndex(ValueLayout.JAVA_FLOAT, i, gather(dout, 4L * (doutOff + (long) i * d), zbar, 4L * zrow * d, acc, d));
                    if (b[i] == 0) continue;
                    float pv = p.getAtIndex(ValueLayout.JAVA_FLOAT, pOff + i), prob = smoothingProb(pv);
                    long prevB = k > first ? 4L * (zrow - 1) * d : -1;
                    float dprob = boundary(acc, zh, 4L * (zhOff + zrow * d), zbar, prevB, prob, dzh, 4L * zrow * d, d);
                    if (pv >= P_MIN && pv <= P_MAX) dp.setAtIndex(ValueLayout.JAVA_FLOAT, i, dprob);
                    k--;
                }
            }
        });
    }

    /** acc += dout_t; returns dc_t = ⟨dout_t, z̄_k⟩. */
    private static float gather(MemorySegment dout, long gB, MemorySegment zbar, long zB, float[] acc, int d) {
        FloatVector dot = FloatVector.zero(S);
        int j = 0, upper = S.loopBound(d);
        for (; j < upper; j += S.length()) {
            FloatVector g = FloatVector.fromMemorySegment(S, dout, gB + 4L * j, NATIVE);
            FloatVector.fromArray(S, acc, j).add(g).intoArray(acc, j);
            dot = g.fma(FloatVector.fromMemorySegment(S, zbar, zB + 4L * j, NATIVE), dot);
        }
        float tail = 0;
        for (; j < d; j++) {
            float g = dout.get(ValueLayout.JAVA_FLOAT, gB + 4L * j);
            acc[j] += g;
            tail = Math.fma(g, zbar.get(ValueLayout.JAVA_FLOAT, zB + 4L * j), tail);
        }
        return Lanes.sum(dot) + tail;
    }

    /** At chunk k's boundary (acc = dz̄_k): dẑ_k = P·acc; returns dP = ⟨acc, ẑ_k − z̄_{k−1}⟩; then acc ← (1 − P)·acc. */
    private static float boundary(float[] acc, MemorySegment zh, long zhB, MemorySegment zbar, long prevB, float prob,
                                  MemorySegment dzh, long dzB, int d) {
        float keep = 1f - prob;
        FloatVector vp = FloatVector.broadcast(S, prob), vk = FloatVector.broadcast(S, keep), dot = FloatVector.zero(S);
        int j = 0, upper = S.loopBound(d);
        for (; j < upper; j += S.length()) {
            FloatVector a = FloatVector.fromArray(S, acc, j);
            FloatVector diff = FloatVector.fromMemorySegment(S, zh, zhB + 4L * j, NATIVE);
            if (prevB >= 0) diff = diff.sub(FloatVector.fromMemorySegment(S, zbar, prevB + 4L * j, NATIVE));
            a.mul(vp).intoMemorySegment(dzh, dzB + 4L * j, NATIVE);
            dot = a.fma(diff, dot);
            a.mul(vk).intoArray(acc, j);
        }
        float tail = 0;
        for (; j < d; j++) {
            float a = acc[j];
            float diff = zh.get(ValueLayout.JAVA_FLOAT, zhB + 4L * j) - (prevB >= 0 ? zbar.get(ValueLayout.JAVA_FLOAT, prevB + 4L * j) : 0f);
            dzh.set(ValueLayout.JAVA_FLOAT, dzB + 4L * j, a * prob);
            tail = Math.fma(a, diff, tail);
            acc[j] = a * keep;
        }
        return Lanes.sum(dot) + tail;
    }
}
