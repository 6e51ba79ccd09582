package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;

/**
 * Row gathers and scatters over contiguous operands viewed as [outer, size, inner]: the kernels behind
 * embedding, index_select, gather and scatter_add. Scatters accumulate in index order, so duplicate indices
 * give the same sum on every run.
 */
public final class IndexKernels {
    private IndexKernels() {}

    /** out[o, i, :] = x[o, idx[i], :]; x is [outer, size, inner], out is [outer, n, inner]. */
    public static void selectRows(Operand x, int outer, int size, int inner, long[] idx, Operand out) {
        int n = idx.length;
        long bs = x.dtype().byteSize();
        CpuPool.parallelFor((long) outer * n, Math.max(1, 4096 / Math.max(1, inner)), (s, e) -> {
            for (long t = s; t < e; t++) {
                long o = t / n, i = t % n;
                long src = x.offset() + (o * size + idx[(int) i]) * inner;
                long dst = out.offset() + (o * n + i) * inner;
                MemorySegment.copy(x.seg(), src * bs, out.seg(), dst * bs, inner * bs);
            }
        });
    }

    /** acc[o, idx[i], :] += g[o, i, :], in order of i; parallel over outer and inner only. */
    public static void addRows(Operand g, int outer, int size, int inner, long[] idx, Operand acc) {
        int n = idx.length;
        DType dt = acc.dtype();
        if (CpuInfo.VECTOR && dt == DType.F32 && g.dtype() == DType.F32) {
            // Row by row in order of i (each element's sum in the same order), blocks of columns in parallel: the
            // per-column walk below strides through memory a row apart for every element (an embedding's gradient
            // took 1.4 ms a step that way).
            int blocks = (inner + ROW_BLOCK - 1) / ROW_BLOCK;
            CpuPool.parallelFor((long) outer * blocks, 1, (s, e) -> {
                for (long t = s; t < e; t++) {
                    long o = t / blocks;
                    int c0 = (int) (t % blocks) * ROW_BLOCK, len = Math.min(ROW_BLOCK, inner - c0);
                    for (int i = 0; i < n; i++) {
                        long src = g.offset() + (o * n + i) * inner + c0, dst = acc.offset() + (o * size + idx[i]) * inner + c0;
                        Simd.addInto(g.seg(), src, acc.seg(), dst, len);
                    }
                }
            });
            return;
        }
        CpuPool.parallelFor((long) outer * inner, 4096, (s, e) -> {
            for (long t = s; t < e; t++) {
                long o = t / inner, c = t % inner;
                for (int i = 0; i < n; i++) {
                    long src = g.offset() + (o * n + i) * inner + c;
                    long dst = acc.offset() + (o * size + idx[i]) * inner + c;
                    Elements.set(acc.seg(), dt, dst, Elements.get(acc.seg(), dt, dst) + Elements.get(g.seg(), g.dtype(), src));
                }
            }
        });
    }

    /** Columns per task of {@link #addRows}' F32 path. */
    private static final int ROW_BLOCK = 1024;

    /** The F32 rows; in a nested class so that the Vector API is touched only when it is present. */
    private static final class Simd {
        static final jdk.incubator.vector.VectorSpecies<Float> S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        static final java.nio.ByteOrder NO = java.nio.ByteOrder.nativeOrder();

        /** dst[0, len) += src[0, len), offsets in floats. */
        static void addInto(MemorySegment src, long so, MemorySegment dst, long d0, int len) {
            int w = S.length(), vn = len - len % w;
            for (int c = 0; c < vn; c += w) {
                long sb = (so + c) * 4, db = (d0 + c) * 4;
                jdk.incubator.vector.FloatVector.fromMemorySegment(S, dst, db, NO)
                        .add(jdk.incubator.vector.FloatVector.fromMemorySegment(S, src, sb, NO)).intoMemorySegment(dst, db, NO);
            }
            for (int c = vn; c < len; c++) {
                dst.setAtIndex(Elements.F, d0 + c, dst.getAtIndex(Elements.F, d0 + c) + src.getAtIndex(Elements.F, so + c));
            }
        }
    }

    /**
     * Along one dimension of [outer, size, inner] x and [outer, n, inner] index/out:
     * gather: out[o, i, c] = x[o, idx[o, i, c], c]; scatter-add: x[o, idx[o, i, c], c] += src[o, i, c].
     */
    public static void gather(Operand x, int outer, int size, int inner, Operand idx, int n, Operand out) {
        CpuPool.parallelFor((long) outer * n * inner, 4096, (s, e) -> {
            for (long t = s; t < e; t++) {
                long o = t / ((long) n * inner), c = t % inner;
                long j = Elements.getLong(idx.seg(), idx.dtype(), idx.offset() + t);
                Elements.set(out.seg(), out.dtype(), out.offset() + t,
                        Elements.get(x.seg(), x.dtype(), x.offset() + (o * size + j) * inner + c));
            }
        });
    }

    public static void scatterAdd(Operand acc, int outer, int size, int inner, Operand idx, int n, Operand src) {
        CpuPool.parallelFor((long) outer * inner, 4096, (s, e) -> {
            for (long t = s; t < e; t++) {
                long o = t / inner, c = t % inner;
                for (int i = 0; i < n; i++) {
                    long at = (o * n + i) * inner + c;
                    long j = Elements.getLong(idx.seg(), idx.dtype(), idx.offset() + at);
                    long dst = acc.offset() + (o * size + j) * inner + c;
                    Elements.set(acc.seg(), acc.dtype(), dst,
                            Elements.get(acc.seg(), acc.dtype(), dst) + Elements.get(src.seg(), src.dtype(), src.offset() + at));
                }
            }
        });
    }

    /** Inclusive cumulative sum or product of each row of a contiguous [rows, n]; accumulates in double. */
    public static void scanRows(Operand x, int rows, int n, Operand out, boolean product) {
        CpuPool.parallelFor(rows, Math.max(1, 4096 / Math.max(1, n)), (s, e) -> {
            for (long r = s; r < e; r++) {
                double acc = product ? 1 : 0;
                for (int i = 0; i < n; i++) {
                    double v = Elements.get(x.seg(), x.dtype(), x.offset() + r * n + i);
                    acc = product ? acc * v : acc + v;
                    Elements.set(out.seg(), out.dtype(), out.offset() + r * n + i, acc);
                }
            }
        });
    }

    /** Gradient of cumprod per row: dx_i = Σ_{j≥i} g_j Π_{k≤j, k≠i} x_k, exact even with zeros (O(n²)). */
    public static void cumprodBackward(Operand x, Operand g, int rows, int n, Operand dx) {
        CpuPool.parallelFor(rows, 1, (s, e) -> {
            double[] xv = new double[n], gv = new double[n];
            for (long r = s; r < e; r++) {
                for (int i = 0; i < n; i++) {
                    xv[i] = Elements.get(x.seg(), x.dtype(), x.offset() + r * n + i);
                    gv[i] = Elements.get(g.seg(), g.dtype(), g.offset() + r * n + i);
                }
                double prefix = 1; // Π_{k<i} x_k
                for (int i = 0; i < n; i++) {
                    double sum = 0, run = prefix;
                    for (int j = i; j < n; j++) {
                        if (j > i) run *= xv[j];
                        sum += gv[j] * run;
                    }
                    Elements.set(dx.seg(), dx.dtype(), dx.offset() + r * n + i, sum);
                    prefix *= xv[i];
                }
            }
        });
    }
}
