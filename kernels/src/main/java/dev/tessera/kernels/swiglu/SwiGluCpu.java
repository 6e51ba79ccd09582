package dev.tessera.kernels.swiglu;

import dev.tessera.runtime.spi.KernelSupport;
import dev.tessera.runtime.spi.VectorMath;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** The fast F32 SwiGLU: Vector API rows, parallel over rows on the runtime's pool. */
final class SwiGluCpu {
    private SwiGluCpu() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder NO = ByteOrder.nativeOrder();

    static void forward(MemorySegment x, long xOff, MemorySegment y, int rows, int f) {
        KernelSupport.parallelFor(rows, Math.max(1, 8192 / f), (s, e) -> {
            int w = S.length(), vn = f - f % w;
            for (long r = s; r < e; r++) {
                long ub = (xOff + r * 2 * f) * 4, gb = ub + f * 4L, yb = r * f * 4;
                for (int i = 0; i < vn; i += w) {
                    FloatVector u = FloatVector.fromMemorySegment(S, x, ub + i * 4L, NO);
                    FloatVector g = FloatVector.fromMemorySegment(S, x, gb + i * 4L, NO);
                    FloatVector silu = g.div(VectorMath.exp(g.neg()).add(1f));
                    u.mul(silu).intoMemorySegment(y, yb + i * 4L, NO);
                }
                for (int i = vn; i < f; i++) {
                    float u = x.get(ValueLayout.JAVA_FLOAT, ub + i * 4L), g = x.get(ValueLayout.JAVA_FLOAT, gb + i * 4L);
                    y.set(ValueLayout.JAVA_FLOAT, yb + i * 4L, (float) (u * g / (1 + Math.exp(-g))));
                }
            }
        });
    }

    static void backward(MemorySegment x, long xOff, MemorySegment dy, long dyOff, MemorySegment dx, int rows, int f) {
        KernelSupport.parallelFor(rows, Math.max(1, 8192 / f), (s, e) -> {
            int w = S.length(), vn = f - f % w;
            for (long r = s; r < e; r++) {
                long ub = (xOff + r * 2 * f) * 4, gb = ub + f * 4L, db = (dyOff + r * f) * 4, ob = r * 2 * f * 4L, ogb = ob + f * 4L;
                for (int i = 0; i < vn; i += w) {
                    FloatVector u = FloatVector.fromMemorySegment(S, x, ub + i * 4L, NO);
                    FloatVector g = FloatVector.fromMemorySegment(S, x, gb + i * 4L, NO);
                    FloatVector d = FloatVector.fromMemorySegment(S, dy, db + i * 4L, NO);
                    FloatVector sg = FloatVector.broadcast(S, 1f).div(VectorMath.exp(g.neg()).add(1f));
                    d.mul(g).mul(sg).intoMemorySegment(dx, ob + i * 4L, NO);
                    // σ(g)·(1 + g·(1 − σ(g)))
                    FloatVector dsilu = sg.mul(g.mul(sg.neg().add(1f)).add(1f));
                    d.mul(u).mul(dsilu).intoMemorySegment(dx, ogb + i * 4L, NO);
                }
                for (int i = vn; i < f; i++) {
                    double u = x.get(ValueLayout.JAVA_FLOAT, ub + i * 4L), g = x.get(ValueLayout.JAVA_FLOAT, gb + i * 4L);
                    double d = dy.get(ValueLayout.JAVA_FLOAT, db + i * 4L), sg = 1 / (1 + Math.exp(-g));
                    dx.set(ValueLayout.JAVA_FLOAT, ob + i * 4L, (float) (d * g * sg));
                    dx.set(ValueLayout.JAVA_FLOAT, ogb + i * 4L, (float) (d * u * sg * (1 + g * (1 - sg))));
                }
            }
        });
    }
}
