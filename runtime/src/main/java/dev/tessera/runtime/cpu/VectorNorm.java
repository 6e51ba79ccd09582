package dev.tessera.runtime.cpu;

import dev.tessera.runtime.spi.Lanes;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD rows of LayerNorm / RMSNorm for F32 operands (all contiguous, weight and bias optional). Row statistics
 * accumulate in float lanes and are combined in double; rows are short (a model width), so this stays accurate.
 */
final class VectorNorm {
    private VectorNorm() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    private static FloatVector ld(MemorySegment m, long elem) { return FloatVector.fromMemorySegment(S, m, elem * 4, NO); }

    /** Forward of one row; returns {mean, rstd}. {@code w}/{@code b} may be null. */
    static void forwardRow(MemorySegment x, long xo, MemorySegment w, long wo, MemorySegment b, long bo, MemorySegment y, long yo,
                           int d, double eps, boolean rms, double[] stats) {
        int l = S.length(), vn = d - d % l;
        double mu = 0;
        if (!rms) {
            FloatVector acc = FloatVector.zero(S);
            for (int i = 0; i < vn; i += l) acc = acc.add(ld(x, xo + i));
            double sum = Lanes.sum(acc);
            for (int i = vn; i < d; i++) sum += x.getAtIndex(Elements.F, xo + i);
            mu = sum / d;
        }
        float m = (float) mu;
        FloatVector sq = FloatVector.zero(S);
        for (int i = 0; i < vn; i += l) {
            FloatVector c = ld(x, xo + i).sub(m);
            sq = c.fma(c, sq);
        }
        double var = Lanes.sum(sq);
        for (int i = vn; i < d; i++) {
            double c = x.getAtIndex(Elements.F, xo + i) - mu;
            var += c * c;
        }
        double rs = 1 / Math.sqrt(var / d + eps);
        stats[0] = mu;
        stats[1] = rs;
        float r = (float) rs;
        for (int i = 0; i < vn; i += l) {
            FloatVector v = ld(x, xo + i).sub(m).mul(r);
            if (w != null) v = v.mul(ld(w, wo + i));
            if (b != null) v = v.add(ld(b, bo + i));
            v.intoMemorySegment(y, (yo + i) * 4, NO);
        }
        for (int i = vn; i < d; i++) {
            double v = (x.getAtIndex(Elements.F, xo + i) - mu) * rs;
            if (w != null) v *= w.getAtIndex(Elements.F, wo + i);
            if (b != null) v += b.getAtIndex(Elements.F, bo + i);
            y.setAtIndex(Elements.F, yo + i, (float) v);
        }
    }

    /**
     * dx of one row, accumulating dw += dy·x̂ and db += dy into float arrays (per block of rows, combined in order by
     * the caller). {@code w} may be null.
     */
    static void backwardRow(MemorySegment x, long xo, MemorySegment w, long wo, MemorySegment dy, long go, MemorySegment dx, long dxo,
                            int d, double mu, double rs, boolean rms, float[] aw, float[] ab) {
        int l = S.length(), vn = d - d % l;
        float m = (float) mu, r = (float) rs;
        FloatVector sG = FloatVector.zero(S), sGX = FloatVector.zero(S);
        for (int i = 0; i < vn; i += l) {
            FloatVector g = ld(dy, go + i), xh = ld(x, xo + i).sub(m).mul(r);
            FloatVector gw = w == null ? g : g.mul(ld(w, wo + i));
            sG = sG.add(gw);
            sGX = gw.fma(xh, sGX);
            if (aw != null) g.fma(xh, FloatVector.fromArray(S, aw, i)).intoArray(aw, i);
            if (ab != null) g.add(FloatVector.fromArray(S, ab, i)).intoArray(ab, i);
        }
        double meanG = Lanes.sum(sG), meanGX = Lanes.sum(sGX);
        for (int i = vn; i < d; i++) {
            double g = dy.getAtIndex(Elements.F, go + i), xh = (x.getAtIndex(Elements.F, xo + i) - mu) * rs;
            double gw = w == null ? g : g * w.getAtIndex(Elements.F, wo + i);
            meanG += gw;
            meanGX += gw * xh;
            if (aw != null) aw[i] += (float) (g * xh);
            if (ab != null) ab[i] += (float) g;
        }
        meanG /= d;
        meanGX /= d;
        float cG = rms ? 0f : (float) meanG, cGX = (float) meanGX;
        for (int i = 0; i < vn; i += l) {
            FloatVector g = ld(dy, go + i), xh = ld(x, xo + i).sub(m).mul(r);
            FloatVector gw = w == null ? g : g.mul(ld(w, wo + i));
            gw.sub(cG).sub(xh.mul(cGX)).mul(r).intoMemorySegment(dx, (dxo + i) * 4, NO);
        }
        for (int i = vn; i < d; i++) {
            double g = dy.getAtIndex(Elements.F, go + i), xh = (x.getAtIndex(Elements.F, xo + i) - mu) * rs;
            double gw = w == null ? g : g * w.getAtIndex(Elements.F, wo + i);
            dx.setAtIndex(Elements.F, dxo + i, (float) (rs * (gw - (rms ? 0 : meanG) - xh * meanGX)));
        }
    }
}
