package dev.tessera.kernels.routing;

import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast F32 route: one pass over q and k, parallel over positions, Vector API for the D-wide dot products.
 * Same math as {@link ChunkRoutingReference#route} and {@link ChunkRoutingReference#routeBackward}.
 *
 * <p>Cross-lane sums are reduced in a fixed order ({@link #sum}) rather than with {@code reduceLanes}, whose order
 * may differ between the JIT intrinsic and the interpreter: the step form must reproduce the parallel form bit
 * for bit.
 */
final class RouteKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final float NORM_EPS = (float) ChunkRoutingReference.NORM_EPS;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    private RouteKernel() {}

    /** Sum of the lanes of {@code v} plus {@code tail}, lane 0 first. */
    private static float sum(FloatVector v, float tail, float[] lanes) {
        v.intoArray(lanes, 0);
        float s = 0;
        for (float x : lanes) s += x;
        return s + tail;
    }

    /**
     * cos(q, k) = ⟨q, k⟩ / (max(‖q‖, eps)·max(‖k‖, eps)) for rows at byte offsets {@code qb}, {@code kb};
     * also leaves ‖q‖² and ‖k‖² in {@code norms2[0..1]} when it is not null.
     */
    static float cosine(MemorySegment q, long qb, MemorySegment k, long kb, int d, float[] lanes, float[] norms2) {
        FloatVector dot = FloatVector.zero(S), qq = FloatVector.zero(S), kk = FloatVector.zero(S);
        int i = 0, upper = S.loopBound(d);
        for (; i < upper; i += S.length()) {
            FloatVector a = FloatVector.fromMemorySegment(S, q, qb + 4L * i, NATIVE);
            FloatVector c = FloatVector.fromMemorySegment(S, k, kb + 4L * i, NATIVE);
            dot = a.fma(c, dot);
            qq = a.fma(a, qq);
            kk = c.fma(c, kk);
        }
        float tDot = 0, tq = 0, tk = 0;
        for (; i < d; i++) {
            float a = q.get(ValueLayout.JAVA_FLOAT, qb + 4L * i), c = k.get(ValueLayout.JAVA_FLOAT, kb + 4L * i);
            tDot = Math.fma(a, c, tDot);
            tq = Math.fma(a, a, tq);
            tk = Math.fma(c, c, tk);
        }
        float sDot = sum(dot, tDot, lanes), sq = sum(qq, tq, lanes), sk = sum(kk, tk, lanes);
        if (norms2 != null) {
            norms2[0] = sq;
            norms2[1] = sk;
        }
        return sDot / (Math.max((float) Math.sqrt(sq), NORM_EPS) * Math.max((float) Math.sqrt(sk), NORM_EPS));
    }

    /** p = clamp((1 − cos)/2, 0, 1) in F32. */
    static float boundaryProb(float cos) { return Math.min(1f, Math.max(0f, (1f - cos) / 2f)); }

    /**
     * p, b, c of every flat position i = b·L + t of the layout; q and k are contiguous [B, L, D] at element offsets
     * {@code qOff}, {@code kOff}; p, b, c are fresh contiguous [B, L].
     */
    static void forward(MemorySegment q, long qOff, MemorySegment k, long kOff, Layout layout, int d,
                        MemorySegment p, MemorySegment b, MemorySegment c) {
        int n = layout.batch * layout.length;
        KernelSupport.parallelFor(n, Math.max(1, 16384 / Math.max(1, d)), (s, e) -> {
            float[] lanes = new float[S.length()];
            for (int i = (int) s; i < e; i++) {
                float prob;
                if (!layout.valid(i)) prob = 0f;
                else if (layout.start(i)) prob = 1f;
                else prob = boundaryProb(cosine(q, 4L * (qOff + (long) (i - 1) * d), k, 4L * (kOff + (long) i * d), d, lanes, null));
                boolean boundary = layout.valid(i) && prob > 0.5f;
                p.setAtIndex(ValueLayout.JAVA_FLOAT, i, prob);
                b.set(ValueLayout.JAVA_BYTE, i, (byte) (boundary ? 1 : 0));
                c.setAtIndex(ValueLayout.JAVA_FLOAT, i, boundary ? prob : 1f - prob);
            }
        });
    }

    /**
     * dq and dk (fresh, zero-filled, contiguous [B, L, D]) from dp (contiguous [B, L] at {@code dpOff}). Position t
     * writes only dq_{t−1} and dk_t, so positions run in parallel without conflicts.
     */
    static void backward(MemorySegment q, long qOff, MemorySegment k, long kOff, Layout layout, int d,
                         MemorySegment dp, long dpOff, MemorySegment dq, MemorySegment dk) {
        int n = layout.batch * layout.length;
        KernelSupport.parallelFor(n, Math.max(1, 8192 / Math.max(1, d)), (s, e) -> {
            float[] lanes = new float[S.length()];
            float[] norms2 = new float[2];
            for (int i = (int) s; i < e; i++) {
                if (!layout.valid(i) || layout.start(i)) continue;
                long qb = 4L * (qOff + (long) (i - 1) * d), kb = 4L * (kOff + (long) i * d);
                float cos = cosine(q, qb, k, kb, d, lanes, norms2);
                float u = (1f - cos) / 2f;
                if (u < 0f || u > 1f) continue;
                float g = -dp.getAtIndex(ValueLayout.JAVA_FLOAT, dpOff + i) / 2f;
                float lq = (float) Math.sqrt(norms2[0]), lk = (float) Math.sqrt(norms2[1]);
                float nq = Math.max(lq, NORM_EPS), nk = Math.max(lk, NORM_EPS);
                // d cos/dq = k/(nq·nk) − cos·q/nq² (second term only when ‖q‖ > eps); likewise for k.
                float a = g / (nq * nk);
                float bq = lq > NORM_EPS ? g * cos / (nq * nq) : 0f, bk = lk > NORM_EPS ? g * cos / (nk * nk) : 0f;
                long dqb = 4L * (long) (i - 1) * d, dkb = 4L * (long) i * d;
                FloatVector va = FloatVector.broadcast(S, a), vbq = FloatVector.broadcast(S, -bq), vbk = FloatVector.broadcast(S, -bk);
                int j = 0, upper = S.loopBound(d);
                for (; j < upper; j += S.length()) {
                    FloatVector qv = FloatVector.fromMemorySegment(S, q, qb + 4L * j, NATIVE);
                    FloatVector kv = FloatVector.fromMemorySegment(S, k, kb + 4L * j, NATIVE);
                    kv.fma(va, qv.mul(vbq)).intoMemorySegment(dq, dqb + 4L * j, NATIVE);
                    qv.fma(va, kv.mul(vbk)).intoMemorySegment(dk, dkb + 4L * j, NATIVE);
                }
                for (; j < d; j++) {
                    float qv = q.get(ValueLayout.JAVA_FLOAT, qb + 4L * j), kv = k.get(ValueLayout.JAVA_FLOAT, kb + 4L * j);
                    dq.set(ValueLayout.JAVA_FLOAT, dqb + 4L * j, Math.fma(kv, a, -bq * qv));
                    dk.set(ValueLayout.JAVA_FLOAT, dkb + 4L * j, Math.fma(qv, a, -bk * kv));
                }
            }
        });
    }
}
