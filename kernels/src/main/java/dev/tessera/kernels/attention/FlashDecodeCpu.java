package dev.tessera.kernels.attention;

import static dev.tessera.kernels.attention.TileKernels.LANES;
import static dev.tessera.kernels.attention.TileKernels.SPECIES;

import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The F32 forward for one query per row on the CPU — a decoding step's attention over a {@link KvCache} — reading the
 * keys and values where they lie (any strides with P contiguous, such as a cache buffer's used prefix).
 *
 * <p>The tiled forward ({@link FlashForwardCpu}) first copies q, k and v into arrays and keeps k transposed; for a
 * single query that copy and transposition cost several times the arithmetic, and it was half of a decoding step of
 * hnet-tiny. Here one task per (row, query head) scores its visible keys [lo, hi) — s_j = scale·q·k_j — then takes
 * m = max s, e_j = exp(s_j − m), l = Σ e_j, o = Σ e_j·v_j / l and L = m + log l (two passes over the keys instead of
 * the online rescaling, the same result up to rounding). A row that sees no key gets o = 0 and L = −∞, as in the
 * tiled forward. Sums run in a fixed order (lane-wise, then {@link Lanes#sum}), so results do not depend on threads.
 */
final class FlashDecodeCpu {
    private FlashDecodeCpu() {}

    /** One query per row and none of the options that need the tiled path's per-tile state. */
    static boolean eligible(Geometry g) {
        return g.qLen == 1 && g.biasHeads == 0 && !g.existence && g.docId == null;
    }

    /** Writes {@code out} [B,Hq,1,P] and {@code lse} [B,Hq,1] (fresh contiguous F32) from F32 q, k, v. */
    static void run(Geometry g, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse) {
        Operand qs = new Operand(headDimContiguous(q)), ks = new Operand(headDimContiguous(k)), vs = new Operand(headDimContiguous(v));
        MemorySegment os = KernelSupport.segment(out), ls = KernelSupport.segment(lse);
        long oOff = KernelSupport.offset(out), lOff = KernelSupport.offset(lse);
        int P = g.headDim, tasks = g.batch * g.qHeads;
        float scale = (float) g.scale;
        long work = 2L * tasks * g.kLen * P;
        int workers = work < FlashForwardCpu.SMALL_WORK ? 1 : Math.min(tasks, KernelSupport.cpuThreads());
        AtomicInteger next = new AtomicInteger();
        KernelSupport.parallelFor(workers, 1, (s0, e0) -> {
            float[] qr = new float[P], acc = new float[P], scores = new float[0];
            for (int task; (task = next.getAndIncrement()) < tasks; ) {
                int b = task / g.qHeads, h = task % g.qHeads, hk = h / g.group();
                int lo = g.lo(b, 0), hi = g.hi(b, 0), n = hi - lo;
                long oAt = (oOff + (long) task * P) * 4;
                if (n <= 0) {
                    os.asSlice(oAt, (long) P * 4).fill((byte) 0);
                    ls.setAtIndex(ValueLayout.JAVA_FLOAT, lOff + task, Float.NEGATIVE_INFINITY);
                    continue;
                }
                if (scores.length < n) scores = new float[Math.max(n, 2 * scores.length)];
                qs.row(b, h, 0, qr);
                float max = scoreKeys(ks, b, hk, lo, n, qr, scale, scores);
                float sum = weights(scores, n, max);
                java.util.Arrays.fill(acc, 0f);
                weighValues(vs, b, hk, lo, n, scores, acc);
                float inv = 1 / sum;
                for (int p = 0; p < P; p++) os.set(ValueLayout.JAVA_FLOAT, oAt + p * 4L, acc[p] * inv);
                ls.setAtIndex(ValueLayout.JAVA_FLOAT, lOff + task, max + (float) Math.log(sum));
            }
        });
    }

    /** s[j] = scale·q·k_{lo+j} for j &lt; n; returns max s. */
    private static float scoreKeys(Operand k, int b, int hk, int lo, int n, float[] q, float scale, float[] s) {
        int P = q.length, full = P - P % LANES;
        VectorMask<Float> tail = SPECIES.indexInRange(0, P - full);
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            long at = k.at(b, hk, lo + j);
            FloatVector d = FloatVector.zero(SPECIES);
            for (int p = 0; p < full; p += LANES) d = FloatVector.fromArray(SPECIES, q, p).fma(k.vector(at + p), d);
            if (full < P) d = FloatVector.fromArray(SPECIES, q, full, tail).fma(k.vector(at + full, tail), d);
            float v = Lanes.sum(d) * scale;
            s[j] = v;
            max = Math.max(max, v);
        }
        return max;
    }

    /** s[j] ← exp(s[j] − max) for j &lt; n; returns Σ s. */
    private static float weights(float[] s, int n, float max) {
        FloatVector m = FloatVector.broadcast(SPECIES, max), sum = FloatVector.zero(SPECIES);
        int j = 0;
        for (; j + LANES <= n; j += LANES) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(SPECIES, s, j).sub(m));
            e.intoArray(s, j);
            sum = sum.add(e);
        }
        if (j < n) {
            VectorMask<Float> rest = SPECIES.indexInRange(0, n - j);
            FloatVector e = VectorMath.exp(FloatVector.fromArray(SPECIES, s, j, rest).sub(m));
            e.intoArray(s, j, rest);
            sum = sum.add(e, rest);
        }
        return Lanes.sum(sum);
    }

    /** acc += Σ_j w[j]·v_{lo+j} for j &lt; n. */
    private static void weighValues(Operand v, int b, int hk, int lo, int n, float[] w, float[] acc) {
        int P = acc.length, full = P - P % LANES;
        for (int p = 0; p < full; p += LANES) {
            FloatVector a = FloatVector.fromArray(SPECIES, acc, p);
            for (int j = 0; j < n; j++) a = FloatVector.broadcast(SPECIES, w[j]).fma(v.vector(v.at(b, hk, lo + j) + p), a);
            a.intoArray(acc, p);
        }
        if (full < P) {
            VectorMask<Float> tail = SPECIES.indexInRange(0, P - full);
            FloatVector a = FloatVector.fromArray(SPECIES, acc, full, tail);
            for (int j = 0; j < n; j++) a = FloatVector.broadcast(SPECIES, w[j]).fma(v.vector(v.at(b, hk, lo + j) + full, tail), a);
            a.intoArray(acc, full, tail);
        }
    }

    /** t itself when its last dim is contiguous (any strides on the others), else a contiguous copy. */
    private static Tensor headDimContiguous(Tensor t) {
        return t.size(3) == 1 || KernelSupport.strides(t)[3] == 1 ? t : t.contiguous();
    }

    /** A [B,H,L,P] F32 tensor read in place: any strides on the first three dims, P contiguous. */
    private static final class Operand {
        final MemorySegment seg;
        final long off, sb, sh, sl;

        Operand(Tensor t) {
            seg = KernelSupport.segment(t);
            off = KernelSupport.offset(t);
            long[] st = KernelSupport.strides(t);
            sb = st[0];
            sh = st[1];
            sl = st[2];
        }

        /** Element index of position l of (b, h). */
        long at(int b, int h, int l) { return off + b * sb + h * sh + l * sl; }

        FloatVector vector(long index) { return FloatVector.fromMemorySegment(SPECIES, seg, index * 4, java.nio.ByteOrder.nativeOrder()); }

        FloatVector vector(long index, VectorMask<Float> m) {
            return FloatVector.fromMemorySegment(SPECIES, seg, index * 4, java.nio.ByteOrder.nativeOrder(), m);
        }

        void row(int b, int h, int l, float[] dst) {
            MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT, at(b, h, l) * 4, dst, 0, dst.length);
        }
    }
}
