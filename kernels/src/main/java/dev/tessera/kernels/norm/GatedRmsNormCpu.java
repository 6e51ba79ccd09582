package dev.tessera.kernels.norm;

import dev.tessera.runtime.spi.KernelSupport;
import dev.tessera.runtime.spi.Lanes;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast F32 gated RMSNorm: Vector API rows, parallel over rows on the runtime's pool. Exponentials by {@link
 * VectorMath#exp} and row sums by {@link Lanes#sum} (the same bits in every JIT tier); the weight's gradient is summed
 * over fixed blocks of rows and the blocks added in order, so it does not depend on the thread count. Offsets and
 * strides as in {@link GatedRmsNormReference}.
 */
final class GatedRmsNormCpu {
    private GatedRmsNormCpu() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final int ROW_BLOCK = 64;

    private static FloatVector sigmoid(FloatVector z) { return FloatVector.broadcast(S, 1f).div(VectorMath.exp(z.neg()).add(1f)); }

    private static float sigmoid(float z) { return 1f / (VectorMath.exp(-z) + 1f); }

    /** Also keeps σ(z) in {@code sig} (contiguous [rows, d]) for the backward, which then computes no exponential. */
    static void forward(MemorySegment x, long xOff, MemorySegment z, long zOff, long zStride, MemorySegment w, long wOff,
                        MemorySegment y, long yOff, MemorySegment sig, long sigOff, double[] rstd, int rows, int d, double eps) {
        KernelSupport.parallelFor(rows, Math.max(1, 4096 / Math.max(1, d)), (s, e) -> {
            int lanes = S.length(), vn = d - d % lanes;
            for (long r = s; r < e; r++) {
                long xb = (xOff + r * d) * 4, zb = (zOff + r * zStride) * 4, yb = (yOff + r * d) * 4, sb = (sigOff + r * d) * 4;
                FloatVector acc = FloatVector.zero(S);
                for (int j = 0; j < vn; j += lanes) { // h into y, then scaled in place
                    FloatVector zv = FloatVector.fromMemorySegment(S, z, zb + j * 4L, NO), sg = sigmoid(zv);
                    sg.intoMemorySegment(sig, sb + j * 4L, NO);
                    FloatVector h = FloatVector.fromMemorySegment(S, x, xb + j * 4L, NO).mul(zv.mul(sg));
                    h.intoMemorySegment(y, yb + j * 4L, NO);
                    acc = h.fma(h, acc);
                }
                float ss = Lanes.sum(acc);
                for (int j = vn; j < d; j++) {
                    float zv = z.get(F, zb + j * 4L), sg = sigmoid(zv), h = x.get(F, xb + j * 4L) * (zv * sg);
                    sig.set(F, sb + j * 4L, sg);
                    y.set(F, yb + j * 4L, h);
                    ss += h * h;
                }
                double rs = 1 / Math.sqrt((double) ss / d + eps);
                rstd[(int) r] = rs;
                float rsf = (float) rs;
                for (int j = 0; j < vn; j += lanes) {
                    FloatVector.fromMemorySegment(S, y, yb + j * 4L, NO).mul(rsf).mul(FloatVector.fromMemorySegment(S, w, (wOff + j) * 4, NO))
                            .intoMemorySegment(y, yb + j * 4L, NO);
                }
                for (int j = vn; j < d; j++) y.set(F, yb + j * 4L, y.get(F, yb + j * 4L) * rsf * w.getAtIndex(F, wOff + j));
            }
        });
    }

    /**
     * Per row, with σ(z) from the forward: a first pass keeps SiLU(z) in dx's row and SiLU′(z) in dz's (both written over in the second), sums
     * dy·w·h and adds dy·h·rstd into the block's weight gradient; the second writes dx and dz.
     */
    static void backward(MemorySegment x, long xOff, MemorySegment z, long zOff, long zStride, MemorySegment sig, long sigOff,
                         MemorySegment w, long wOff, MemorySegment dy, long dyOff, double[] rstd, MemorySegment dx, long dxOff,
                         MemorySegment dz, long dzOff, long dzStride, MemorySegment dw, long dwOff, int rows, int d) {
        int blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
        float[][] parts = new float[blocks][];
        KernelSupport.parallelFor(blocks, 1, (s, e) -> {
            for (long blk = s; blk < e; blk++) {
                float[] aw = new float[d];
                int r0 = (int) blk * ROW_BLOCK, r1 = Math.min(rows, r0 + ROW_BLOCK);
                for (long r = r0; r < r1; r++) {
                    long xb = (xOff + r * d) * 4, zb = (zOff + r * zStride) * 4, gb = (dyOff + r * d) * 4;
                    long ob = (dxOff + r * d) * 4, zob = (dzOff + r * dzStride) * 4, sb = (sigOff + r * d) * 4;
                    float rsf = (float) rstd[(int) r];
                    float dot = firstPass(x, xb, z, zb, sig, sb, w, wOff, dy, gb, dx, ob, dz, zob, rsf, aw, d);
                    double rs = rstd[(int) r];
                    secondPass(x, xb, w, wOff, dy, gb, dx, ob, dz, zob, rsf, (float) (rs * rs * rs * dot / d), d);
                }
                parts[(int) blk] = aw;
            }
        });
        double[] acc = new double[d];
        for (float[] p : parts) for (int j = 0; j < d; j++) acc[j] += p[j];
        for (int j = 0; j < d; j++) dw.setAtIndex(F, dwOff + j, (float) acc[j]);
    }

    // The two passes over a row are methods of their own: as one lambda of 1,086 bytecodes C1 ran out of registers
    // compiling it, so the first few hundred training steps ran it interpreted (the Vector API's Java fallback).

    /** SiLU(z) into dx's row and SiLU′(z) into dz's, dy·h·rstd added to aw; returns Σ dy·w·h. */
    private static float firstPass(MemorySegment x, long xb, MemorySegment z, long zb, MemorySegment sig, long sb, MemorySegment w, long wOff,
                                   MemorySegment dy, long gb, MemorySegment dx, long ob, MemorySegment dz, long zob, float rsf, float[] aw, int d) {
        int lanes = S.length(), vn = d - d % lanes;
        FloatVector dotv = FloatVector.zero(S);
        for (int j = 0; j < vn; j += lanes) {
            FloatVector zv = FloatVector.fromMemorySegment(S, z, zb + j * 4L, NO), sg = FloatVector.fromMemorySegment(S, sig, sb + j * 4L, NO);
            FloatVector sv = zv.mul(sg);
            FloatVector h = FloatVector.fromMemorySegment(S, x, xb + j * 4L, NO).mul(sv);
            FloatVector g = FloatVector.fromMemorySegment(S, dy, gb + j * 4L, NO);
            dotv = g.mul(FloatVector.fromMemorySegment(S, w, (wOff + j) * 4, NO)).fma(h, dotv);
            g.mul(h).mul(rsf).add(FloatVector.fromArray(S, aw, j)).intoArray(aw, j);
            sv.intoMemorySegment(dx, ob + j * 4L, NO);
            sg.mul(zv.mul(sg.neg().add(1f)).add(1f)).intoMemorySegment(dz, zob + j * 4L, NO);
        }
        float dot = Lanes.sum(dotv);
        for (int j = vn; j < d; j++) {
            float zv = z.get(F, zb + j * 4L), sg = sig.get(F, sb + j * 4L), sv = zv * sg, h = x.get(F, xb + j * 4L) * sv;
            float g = dy.get(F, gb + j * 4L);
            dot += g * w.getAtIndex(F, wOff + j) * h;
            aw[j] += g * h * rsf;
            dx.set(F, ob + j * 4L, sv);
            dz.set(F, zob + j * 4L, sg * (1 + zv * (1 - sg)));
        }
        return dot;
    }

    /** dx and dz of the row from dh = dy·w·rstd − x·SiLU(z)·c. */
    private static void secondPass(MemorySegment x, long xb, MemorySegment w, long wOff, MemorySegment dy, long gb, MemorySegment dx, long ob,
                                   MemorySegment dz, long zob, float rsf, float c, int d) {
        int lanes = S.length(), vn = d - d % lanes;
        for (int j = 0; j < vn; j += lanes) {
            FloatVector xv = FloatVector.fromMemorySegment(S, x, xb + j * 4L, NO);
            FloatVector sv = FloatVector.fromMemorySegment(S, dx, ob + j * 4L, NO);
            FloatVector gw = FloatVector.fromMemorySegment(S, dy, gb + j * 4L, NO).mul(FloatVector.fromMemorySegment(S, w, (wOff + j) * 4, NO));
            FloatVector dh = gw.mul(rsf).sub(xv.mul(sv).mul(c));
            dh.mul(sv).intoMemorySegment(dx, ob + j * 4L, NO);
            dh.mul(xv).mul(FloatVector.fromMemorySegment(S, dz, zob + j * 4L, NO)).intoMemorySegment(dz, zob + j * 4L, NO);
        }
        for (int j = vn; j < d; j++) {
            float xv = x.get(F, xb + j * 4L), sv = dx.get(F, ob + j * 4L);
            float dh = dy.get(F, gb + j * 4L) * w.getAtIndex(F, wOff + j) * rsf - xv * sv * c;
            dx.set(F, ob + j * 4L, dh * sv);
            dz.set(F, zob + j * 4L, dh * xv * dz.get(F, zob + j * 4L));
        }
    }
}
