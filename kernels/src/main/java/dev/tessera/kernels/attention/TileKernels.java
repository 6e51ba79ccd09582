package dev.tessera.kernels.attention;

import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API inner loops of the CPU flash attention: the two small matrix products a tile needs, and the
 * online-softmax update of FlashAttention-2 (arXiv 2307.08691, Algorithm 1).
 *
 * <p>A tile is {@code rows ≤ BR} queries by {@link #BC} keys (four vectors wide). Vectors live in local
 * variables only: stored in arrays or fields they are boxed and the loop runs ~40× slower (ARCHITECTURE.md).
 * Two rows share each loaded vector, so the hot loops issue two FMAs per load.
 */
final class TileKernels {
    private TileKernels() {}

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    /** Keys per tile. */
    static final int BC = 4 * LANES;
    /** Queries per tile (and per forward task). */
    static final int BR = 64;

    /**
     * {@code s[r·BC + c] = Σ_p a[aOff + r·P + p] · bT[p·ldb + j0 + c]} for r &lt; rows, c &lt; BC: dot products of
     * row-major rows of {@code a} with the columns of a transposed, padded {@code bT} (so the key index is the
     * vector lane and no horizontal sums are needed).
     */
    static void dots(float[] a, int aOff, int rows, int P, float[] bT, int ldb, int j0, float[] s) {
        int r = 0;
        for (; r + 1 < rows; r += 2) {
            FloatVector s00 = FloatVector.zero(SPECIES), s01 = s00, s02 = s00, s03 = s00;
            FloatVector s10 = s00, s11 = s00, s12 = s00, s13 = s00;
            int a0 = aOff + r * P, a1 = a0 + P;
            for (int p = 0; p < P; p++) {
                int kb = p * ldb + j0;
                FloatVector k0 = FloatVector.fromArray(SPECIES, bT, kb);
                FloatVector k1 = FloatVector.fromArray(SPECIES, bT, kb + LANES);
                FloatVector k2 = FloatVector.fromArray(SPECIES, bT, kb + 2 * LANES);
                FloatVector k3 = FloatVector.fromArray(SPECIES, bT, kb + 3 * LANES);
                FloatVector x = FloatVector.broadcast(SPECIES, a[a0 + p]);
                FloatVector y = FloatVector.broadcast(SPECIES, a[a1 + p]);
                s00 = x.fma(k0, s00);
                s01 = x.fma(k1, s01);
                s02 = x.fma(k2, s02);
                s03 = x.fma(k3, s03);
                s10 = y.fma(k0, s10);
                s11 = y.fma(k1, s11);
                s12 = y.fma(k2, s12);
                s13 = y.fma(k3, s13);
            }
            int o = r * BC;
            s00.intoArray(s, o);
            s01.intoArray(s, o + LANES);
            s02.intoArray(s, o + 2 * LANES);
            s03.intoArray(s, o + 3 * LANES);
            s10.intoArray(s, o + BC);
            s11.intoArray(s, o + BC + LANES);
            s12.intoArray(s, o + BC + 2 * LANES);
            s13.intoArray(s, o + BC + 3 * LANES);
        }
        if (r < rows) {
            FloatVector s00 = FloatVector.zero(SPECIES), s01 = s00, s02 = s00, s03 = s00;
            int a0 = aOff + r * P;
            for (int p = 0; p < P; p++) {
                int kb = p * ldb + j0;
                FloatVector x = FloatVector.broadcast(SPECIES, a[a0 + p]);
                s00 = x.fma(FloatVector.fromArray(SPECIES, bT, kb), s00);
                s01 = x.fma(FloatVector.fromArray(SPECIES, bT, kb + LANES), s01);
                s02 = x.fma(FloatVector.fromArray(SPECIES, bT, kb + 2 * LANES), s02);
                s03 = x.fma(FloatVector.fromArray(SPECIES, bT, kb + 3 * LANES), s03);
            }
            int o = r * BC;
            s00.intoArray(s, o);
            s01.intoArray(s, o + LANES);
            s02.intoArray(s, o + 2 * LANES);
            s03.intoArray(s, o + 3 * LANES);
        }
    }

    /**
     * {@code acc[accOff + i·P + p] += Σ_{t<nIn} w[i·wi + t·wt] · x[xOff + t·P + p]} for i &lt; nOut: a weight tile
     * times row-major rows of x. With (wi, wt) = (BC, 1) it is {@code P·V} / {@code dS·K} (one output per query);
     * with (1, BC) the transposed {@code Pᵀ·dO} / {@code dSᵀ·Q} (one output per key).
     */
    static void accumulate(float[] w, int wi, int wt, int nOut, int nIn, float[] x, int xOff, int P, float[] acc, int accOff) {
        // Each part is its own small method: as one method of 1,144 bytecodes C1 ran out of registers compiling it
        // and C2 took until thousands of calls to compile it, so that decoding (a one-row tile per step) ran the
        // Vector API's Java fallback, several times slower than scalar code.
        int wide = P - P % (4 * LANES), vectors = P - P % LANES;
        int i = 0;
        for (; i + 1 < nOut; i += 2) {
            int w0 = i * wi, o0 = accOff + i * P;
            for (int pc = 0; pc < wide; pc += 4 * LANES) pairOfFour(w, w0, w0 + wi, wt, nIn, x, xOff + pc, P, acc, o0 + pc, o0 + P + pc);
            for (int pc = wide; pc < vectors; pc += LANES) pairOfOne(w, w0, w0 + wi, wt, nIn, x, xOff + pc, P, acc, o0 + pc, o0 + P + pc);
            if (vectors < P) pairOfOneMasked(w, w0, w0 + wi, wt, nIn, x, xOff + vectors, P, acc, o0 + vectors, o0 + P + vectors);
        }
        if (i < nOut) single(w, i * wi, wt, nIn, x, xOff, P, acc, accOff + i * P);
    }

    /** Two output rows (weights at w0, w1; outputs at o0, o1), four vectors of columns from x's column xc. */
    private static void pairOfFour(float[] w, int w0, int w1, int wt, int nIn, float[] x, int xc, int P, float[] acc, int o0, int o1) {
        FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0);
        FloatVector a1 = FloatVector.fromArray(SPECIES, acc, o0 + LANES);
        FloatVector a2 = FloatVector.fromArray(SPECIES, acc, o0 + 2 * LANES);
        FloatVector a3 = FloatVector.fromArray(SPECIES, acc, o0 + 3 * LANES);
        FloatVector b0 = FloatVector.fromArray(SPECIES, acc, o1);
        FloatVector b1 = FloatVector.fromArray(SPECIES, acc, o1 + LANES);
        FloatVector b2 = FloatVector.fromArray(SPECIES, acc, o1 + 2 * LANES);
        FloatVector b3 = FloatVector.fromArray(SPECIES, acc, o1 + 3 * LANES);
        for (int t = 0; t < nIn; t++) {
            int xb = xc + t * P;
            FloatVector x0 = FloatVector.fromArray(SPECIES, x, xb);
            FloatVector x1 = FloatVector.fromArray(SPECIES, x, xb + LANES);
            FloatVector x2 = FloatVector.fromArray(SPECIES, x, xb + 2 * LANES);
            FloatVector x3 = FloatVector.fromArray(SPECIES, x, xb + 3 * LANES);
            FloatVector u = FloatVector.broadcast(SPECIES, w[w0 + t * wt]);
            FloatVector z = FloatVector.broadcast(SPECIES, w[w1 + t * wt]);
            a0 = u.fma(x0, a0);
            a1 = u.fma(x1, a1);
            a2 = u.fma(x2, a2);
            a3 = u.fma(x3, a3);
            b0 = z.fma(x0, b0);
            b1 = z.fma(x1, b1);
            b2 = z.fma(x2, b2);
            b3 = z.fma(x3, b3);
        }
        a0.intoArray(acc, o0);
        a1.intoArray(acc, o0 + LANES);
        a2.intoArray(acc, o0 + 2 * LANES);
        a3.intoArray(acc, o0 + 3 * LANES);
        b0.intoArray(acc, o1);
        b1.intoArray(acc, o1 + LANES);
        b2.intoArray(acc, o1 + 2 * LANES);
        b3.intoArray(acc, o1 + 3 * LANES);
    }

    /** Two output rows, one vector of columns. */
    private static void pairOfOne(float[] w, int w0, int w1, int wt, int nIn, float[] x, int xc, int P, float[] acc, int o0, int o1) {
        FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0);
        FloatVector b0 = FloatVector.fromArray(SPECIES, acc, o1);
        for (int t = 0; t < nIn; t++) {
            FloatVector x0 = FloatVector.fromArray(SPECIES, x, xc + t * P);
            a0 = FloatVector.broadcast(SPECIES, w[w0 + t * wt]).fma(x0, a0);
            b0 = FloatVector.broadcast(SPECIES, w[w1 + t * wt]).fma(x0, b0);
        }
        a0.intoArray(acc, o0);
        b0.intoArray(acc, o1);
    }

    /** Two output rows, the last P mod LANES columns under a mask (as a scalar loop they cost more than the rest at P = 24). */
    private static void pairOfOneMasked(float[] w, int w0, int w1, int wt, int nIn, float[] x, int xc, int P, float[] acc, int o0, int o1) {
        VectorMask<Float> tail = SPECIES.indexInRange(0, P % LANES);
        FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0, tail);
        FloatVector b0 = FloatVector.fromArray(SPECIES, acc, o1, tail);
        for (int t = 0; t < nIn; t++) {
            FloatVector x0 = FloatVector.fromArray(SPECIES, x, xc + t * P, tail);
            a0 = FloatVector.broadcast(SPECIES, w[w0 + t * wt]).fma(x0, a0);
            b0 = FloatVector.broadcast(SPECIES, w[w1 + t * wt]).fma(x0, b0);
        }
        a0.intoArray(acc, o0, tail);
        b0.intoArray(acc, o1, tail);
    }

    /** One output row (weights at w0, output at o0), all P columns. */
    private static void single(float[] w, int w0, int wt, int nIn, float[] x, int xOff, int P, float[] acc, int o0) {
        int pc = 0;
        for (; pc + LANES <= P; pc += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + pc);
            for (int t = 0; t < nIn; t++) {
                a0 = FloatVector.broadcast(SPECIES, w[w0 + t * wt]).fma(FloatVector.fromArray(SPECIES, x, xOff + t * P + pc), a0);
            }
            a0.intoArray(acc, o0 + pc);
        }
        if (pc < P) {
            VectorMask<Float> tail = SPECIES.indexInRange(0, P - pc);
            FloatVector a0 = FloatVector.fromArray(SPECIES, acc, o0 + pc, tail);
            for (int t = 0; t < nIn; t++) {
                a0 = FloatVector.broadcast(SPECIES, w[w0 + t * wt]).fma(FloatVector.fromArray(SPECIES, x, xOff + t * P + pc, tail), a0);
            }
            a0.intoArray(acc, o0 + pc, tail);
        }
    }

    /**
     * One online-softmax step for tile row r (FA-2 Algorithm 1, lines 8–10): with m' = max(m, rowmax s),
     * {@code s ← exp(s − m')} in place, {@code l ← l·e^(m−m') + Σ s}, {@code acc_r ← acc_r·e^(m−m')}, {@code m ← m'}.
     * A row with no visible key so far keeps m = −∞ and gets zero weights, never exp(−∞ − (−∞)) = NaN.
     */
    static void softmaxStep(float[] s, int r, float[] m, float[] l, float[] acc, int P) {
        int o = r * BC;
        FloatVector v0 = FloatVector.fromArray(SPECIES, s, o);
        FloatVector v1 = FloatVector.fromArray(SPECIES, s, o + LANES);
        FloatVector v2 = FloatVector.fromArray(SPECIES, s, o + 2 * LANES);
        FloatVector v3 = FloatVector.fromArray(SPECIES, s, o + 3 * LANES);
        float mx = v0.max(v1).max(v2.max(v3)).reduceLanes(VectorOperators.MAX);
        float mOld = m[r], mNew = Math.max(mOld, mx);
        if (mNew == Float.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(s, o, o + BC, 0f);
            return;
        }
        FloatVector mv = FloatVector.broadcast(SPECIES, mNew);
        v0 = VectorMath.exp(v0.sub(mv));
        v1 = VectorMath.exp(v1.sub(mv));
        v2 = VectorMath.exp(v2.sub(mv));
        v3 = VectorMath.exp(v3.sub(mv));
        v0.intoArray(s, o);
        v1.intoArray(s, o + LANES);
        v2.intoArray(s, o + 2 * LANES);
        v3.intoArray(s, o + 3 * LANES);
        float sum = Lanes.sum(v0.add(v1).add(v2.add(v3)));
        float alpha = mOld == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(mOld - mNew);
        l[r] = l[r] * alpha + sum;
        m[r] = mNew;
        if (alpha != 1f) scale(acc, r * P, P, alpha);
    }

    /** {@code x[off..off+n) *= c}. */
    static void scale(float[] x, int off, int n, float c) {
        int i = 0;
        FloatVector cv = FloatVector.broadcast(SPECIES, c);
        for (; i + LANES <= n; i += LANES) FloatVector.fromArray(SPECIES, x, off + i).mul(cv).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= c;
    }

    /** {@code s ← exp(s − lse)} for tile row r (the backward's recomputed probabilities); 0 when lse = −∞. */
    static void probabilities(float[] s, int r, float lse) {
        int o = r * BC;
        if (lse == Float.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(s, o, o + BC, 0f);
            return;
        }
        FloatVector lv = FloatVector.broadcast(SPECIES, lse);
        for (int c = 0; c < BC; c += LANES) {
            VectorMath.exp(FloatVector.fromArray(SPECIES, s, o + c).sub(lv)).intoArray(s, o + c);
        }
    }

    /** {@code dp ← p ∘ (dp − D)} for tile row r: dS from dP (FA-2 backward, arXiv 2307.08691 Algorithm 2 line 14). */
    static void scoreGradient(float[] p, float[] dp, int r, float rowD) {
        int o = r * BC;
        FloatVector dv = FloatVector.broadcast(SPECIES, rowD);
        for (int c = 0; c < BC; c += LANES) {
            FloatVector pv = FloatVector.fromArray(SPECIES, p, o + c);
            pv.mul(FloatVector.fromArray(SPECIES, dp, o + c).sub(dv)).intoArray(dp, o + c);
        }
    }
}
