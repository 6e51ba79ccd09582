package dev.tessera.runtime.cpu;

import dev.tessera.runtime.spi.Lanes;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float32 GEMM on the Vector API: A and B are packed into cache-sized, zero-padded panels and multiplied by
 * an {@code MR × NR} register-blocked micro-kernel, {@code MR = 6} rows by {@code NR} = two vectors of columns
 * (6×32 with AVX-512), i.e. 12 vector accumulators.
 *
 * <p>Loop nest, outermost first: column blocks of at most {@link #NC} (the packed B block lives in L3), reduction
 * blocks of at most {@link #KC}, row blocks of at most {@link #MC} (the packed A block lives in L2), then B
 * micro-panels, then A micro-panels, each pair feeding one micro-kernel call. Each thread owns a rectangle of C
 * and its own packing buffers, so threads never wait on each other inside a GEMM.
 *
 * <p>Only loaded when {@link CpuInfo#VECTOR} is true, so that {@link Gemm} works without the incubator module.
 */
final class GemmF32Vector {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Micro-tile: rows of A per panel, and columns of B per panel (two vectors). */
    static final int MR = 6, NR = 2 * L;
    /**
     * Cache blocks (upper bounds; actual blocks are balanced to the problem): reduction length, rows of A and
     * columns of B per packed block. The A block (MC×KC, 192 KiB) stays in the 1 MiB L2 of the target cores, a B
     * micro-panel (KC×NR, 32 KiB) in L1, and a packed B block (KC×NC, 1 MiB) per thread in L2/L3. Measured on this
     * 2-core machine against OpenBLAS at 1024 and 2048: KC 256 / NC 1024 beat 512 / 2048 (0.73× → 0.93× at 2048),
     * 512 / 1024 and 256 / 4096.
     */
    static final int KC = 256, MC = 32 * MR, NC = Math.max(NR, 1024 / NR * NR);
    /** Columns of a transposed A packed per pass. */
    private static final int COLUMNS = 16;

    /** Up to this many rows, with row-major B, B is streamed straight from memory instead of packed. */
    static final int FEW_ROWS = 2;

    /** Up to this many rows, with row-major A and a transposed row-major B, C is computed as dot products. */
    static final int FEW_ROWS_BY_DOTS = 8;

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT;
    /** L BF16 values (half a float vector's bits), and L ints (a float vector's shape) to widen them through. */
    private static final VectorSpecies<Short> HALVES = VectorSpecies.of(short.class, VectorShape.forBitSize(L * Short.SIZE));
    private static final VectorSpecies<Integer> WORDS = S.withLanes(int.class);
    private static final long TILE_ROW_BYTES = (long) NR * Float.BYTES;

    /**
     * Per-thread packing buffers, reused across calls (B's grows to the largest block seen, at most KC×NC floats,
     * 4 MiB). Heap arrays keep the micro-kernel's loads simple: C2 hoists their bounds checks out of the loop.
     */
    private static final class Workspace {
        final float[] a = new float[MC * KC];
        float[] b = new float[0];
        /** Edge tiles are computed in full into this buffer, then only their valid part is merged into C. */
        final float[] tileArray = new float[MR * NR];
        /** Columns of a transposed operand on their way into a panel (packA's COLUMNS×MC, packB's one column of KC). */
        final float[] columns = new float[COLUMNS * MC], column = new float[KC];
        final MemorySegment tile = MemorySegment.ofArray(tileArray);

        /** Partial products of a reduction split over threads ({@link #splitK}), one array per part index. */
        float[][] partials = new float[0][];

        float[] b(int size) {
            if (b.length < size) b = new float[size];
            return b;
        }

        float[] partial(int part, int size) {
            if (partials.length <= part) partials = java.util.Arrays.copyOf(partials, part + 1);
            if (partials[part] == null || partials[part].length < size) partials[part] = new float[size];
            return partials[part];
        }
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    private GemmF32Vector() {}

    /** See {@link Gemm#sgemm}; {@code k > 0}, {@code m, n > 0}. Splits over threads only when {@code parallel}. */
    static void sgemm(int m, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean parallel) {
        sgemm(m, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, parallel, false);
    }

    /**
     * {@link #sgemm}, with B in BF16 when {@code bf16B} (then B must be stored transposed, {@code bRs == 1}, with
     * {@code bCs != 1}): every route widens B's values exactly where it reads them (the dot products, or packing
     * B's panels), so the result is the float32 product's with B widened beforehand, bit for bit.
     */
    static void sgemm(int m, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean parallel, boolean bf16B) {
        int threads = parallel ? CpuPool.threads() : 1;
        long fmas = (long) m * n * k;
        if (bf16B && (bRs != 1 || bCs == 1)) throw new IllegalArgumentException("BF16 B must be stored transposed (row stride 1), got strides " + bRs + ", " + bCs);
        if (m <= FEW_ROWS && bCs == 1) {
            // Matrix-vector shapes (e.g. decoding one token): packing B would cost more than the product.
            int groups = (n + 4 * L - 1) / (4 * L);
            long grain = threads <= 1 ? groups : Math.max(1, Gemm.MIN_FMAS_PER_TASK / ((long) m * 4 * L * k));
            CpuPool.parallelFor(groups, grain, (s, e) -> fewRows(m, (int) s * 4 * L, (int) Math.min(n, e * 4 * L), k,
                    a, aOff, aRs, aCs, b, bOff, bRs, c, cOff, cRs, accumulate));
            return;
        }
        if (m <= FEW_ROWS_BY_DOTS && aCs == 1 && bRs == 1) {
            // A few rows times a transposed row-major B (a Linear's weight while decoding): each output is a dot
            // product of two contiguous rows; packing both operands for the blocked kernel cost more than the product.
            int groups = (n + 3) / 4;
            long grain = threads <= 1 ? groups : Math.max(1, Gemm.MIN_FMAS_PER_TASK / ((long) m * 4 * k));
            CpuPool.parallelFor(groups, grain, (s, e) -> fewRowsByDots(m, (int) s * 4, (int) Math.min(n, e * 4), k,
                    a, aOff, aRs, b, bOff, bCs, c, cOff, cRs, accumulate, bf16B));
            return;
        }
        if (threads <= 1 || fmas < 2 * Gemm.MIN_FMAS_PER_TASK) {
            block(0, m, 0, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, bf16B);
            return;
        }
        if (splitsReduction(m, n, k, threads)) {
            splitK(threads, m, n, k, a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, bf16B);
            return;
        }
        int mPanels = (m + MR - 1) / MR, nPanels = (n + NR - 1) / NR;
        // Each thread packs its own rows of A and all of B when splitting rows (or vice versa); prefer rows when
        // they balance about as well, since B's packing is the cheaper one to duplicate (two vector copies per
        // row of a panel for row-major B, against per-row copies of A).
        boolean byRows = balance(mPanels, threads) >= balance(nPanels, threads) - 0.02;
        if (byRows) {
            long grain = Math.max(1, Gemm.MIN_FMAS_PER_TASK / ((long) MR * n * k));
            CpuPool.parallelFor(mPanels, grain, (s, e) -> block((int) s * MR, (int) Math.min(m, e * MR), 0, n, k,
                    a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, bf16B));
        } else {
            long grain = Math.max(1, Gemm.MIN_FMAS_PER_TASK / ((long) m * NR * k));
            CpuPool.parallelFor(nPanels, grain, (s, e) -> block(0, m, (int) s * NR, (int) Math.min(n, e * NR), k,
                    a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, bf16B));
        }
    }

    /**
     * A small C over a long reduction (a weight gradient, dW = gᵀ·x summed over every row of the batch) is split over
     * the reduction rather than over C's rows or columns: split by rows or columns, every thread packs the whole of one
     * operand along the long reduction, and C's few panels split unevenly. Split over the reduction, each thread packs
     * only its share of both; the partial products are added in a fixed order. Measured (`WeightGradientGemmBench`,
     * 2 threads): 2,048 rows into 64×64, 64×128, 64×296 outputs 1.44×, 1.19×, 1.07× faster; 650 rows into 96×96 and
     * 96×288 (hnet-tiny's main network) 0.9×, so a short reduction keeps the split over C.
     */
    static boolean splitsReduction(int m, int n, int k, int threads) {
        return threads > 1 && (long) m * n <= SPLIT_K_MAX_OUTPUT && k >= 4L * Math.max(m, n) && k >= 2L * threads * KC;
    }

    /** Outputs of at most this many elements may take {@link #splitK} (a partial product per thread: 256 KiB). */
    static final long SPLIT_K_MAX_OUTPUT = 64 * 1024;

    /**
     * C (+)= A·B with the reduction cut into {@code threads} equal parts: part 0 goes into C, every other
     * part into an array of its own, then C += part 1, part 2, … in that order (the same bits whichever thread ran
     * which part).
     */
    private static void splitK(int threads, int m, int n, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean bf16B) {
        float[][] parts = new float[threads][];
        CpuPool.parallelFor(threads, 1, (s, e) -> {
            for (int t = (int) s; t < e; t++) {
                int k0 = (int) ((long) k * t / threads), k1 = (int) ((long) k * (t + 1) / threads);
                if (t == 0) {
                    block(0, m, 0, n, k1 - k0, a, aOff, aRs, aCs, b, bOff, bRs, bCs, c, cOff, cRs, accumulate, bf16B);
                } else if (k1 > k0) {
                    float[] part = WORKSPACE.get().partial(t, m * n);
                    block(0, m, 0, n, k1 - k0, a, aOff + k0 * aCs, aRs, aCs, b, bOff + k0 * bRs, bRs, bCs,
                            MemorySegment.ofArray(part), 0, n, false, bf16B);
                    parts[t] = part;
                }
            }
        });
        for (int t = 1; t < threads; t++) if (parts[t] != null) addRows(m, n, parts[t], c, cOff, cRs);
    }

    /** C[i, :] += part[i·n ..] for every row i of C. */
    private static void addRows(int m, int n, float[] part, MemorySegment c, long cOff, long cRs) {
        int vn = n - n % L;
        for (int i = 0; i < m; i++) {
            long row = (cOff + i * cRs) * Float.BYTES;
            int j = 0;
            for (; j < vn; j += L) {
                long at = row + (long) j * Float.BYTES;
                FloatVector.fromMemorySegment(S, c, at, NATIVE).add(FloatVector.fromArray(S, part, i * n + j)).intoMemorySegment(c, at, NATIVE);
            }
            for (; j < n; j++) {
                long at = row + (long) j * Float.BYTES;
                c.set(F, at, c.get(F, at) + part[i * n + j]);
            }
        }
    }

    /** Fraction of the threads' time that is useful when {@code panels} are dealt out in contiguous chunks. */
    private static double balance(int panels, int threads) {
        int perThread = (panels + threads - 1) / threads;
        return (double) panels / ((long) perThread * threads);
    }

    /** Splits {@code total} into the fewest chunks of at most {@code max}, of equal size rounded up to {@code unit}. */
    private static int chunk(int total, int max, int unit) {
        int pieces = (total + max - 1) / max;
        int size = (total + pieces - 1) / pieces;
        return Math.min(max, (size + unit - 1) / unit * unit);
    }

    /** Computes rows {@code [i0, i1)} × columns {@code [j0, j1)} of C on the calling thread. */
    private static void block(int i0, int i1, int j0, int j1, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean bf16B) {
        Workspace w = WORKSPACE.get();
        int kcMax = chunk(k, KC, 1);
        int mcMax = chunk(i1 - i0, MC, MR);
        int ncMax = chunk(j1 - j0, NC, NR);
        float[] bp = w.b(kcMax * ((ncMax + NR - 1) / NR * NR));
        float[] ap = w.a;
        for (int jc = j0; jc < j1; jc += ncMax) {
            int nc = Math.min(ncMax, j1 - jc);
            for (int pc = 0; pc < k; pc += kcMax) {
                int kc = Math.min(kcMax, k - pc);
                if (bf16B) {
                    packTransposedBf16B(kc, nc, b, bOff + pc * bRs + jc * bCs, bCs, bp, w.column);
                } else {
                    packB(kc, nc, b, bOff + pc * bRs + jc * bCs, bRs, bCs, bp, w.column);
                }
                boolean add = accumulate || pc > 0;
                for (int ic = i0; ic < i1; ic += mcMax) {
                    int mc = Math.min(mcMax, i1 - ic);
                    packA(mc, kc, a, aOff + ic * aRs + pc * aCs, aRs, aCs, ap, w.columns);
                    macro(mc, nc, kc, ap, bp, c, cOff + ic * cRs + jc, cRs, add, w);
                }
            }
        }
    }

    /** Multiplies one packed A block by one packed B block into C, one micro-tile at a time. */
    private static void macro(int mc, int nc, int kc, float[] ap, float[] bp,
            MemorySegment c, long cOff, long cRs, boolean add, Workspace w) {
        long ldc = cRs * Float.BYTES;
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int bi = jr * kc;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int ai = ir * kc;
                long co = (cOff + ir * cRs + jr) * Float.BYTES;
                if (mr == MR && nr == NR) {
                    kernel(kc, ap, ai, bp, bi, c, co, ldc, add);
                } else {
                    kernel(kc, ap, ai, bp, bi, w.tile, 0, TILE_ROW_BYTES, false);
                    mergeTile(mr, nr, w.tileArray, c, co, ldc, add);
                }
            }
        }
    }

    /**
     * The micro-kernel: C[6, NR] (+)= Apanel[6, kc] · Bpanel[kc, NR], the A panel stored as six rows of kc floats
     * from index {@code ai}, the B panel as kc rows of NR floats from {@code bi}. The twelve accumulators are
     * separate locals and the loop body is straight-line code, so that C2 keeps them all in vector registers;
     * any array or field holding vectors would force them to memory (measured ~40x slower).
     */
    private static void kernel(int kc, float[] a, int ai, float[] b, int bi,
            MemorySegment c, long co, long ldc, boolean add) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        int a0 = ai, a1 = ai + kc, a2 = ai + 2 * kc, a3 = ai + 3 * kc, a4 = ai + 4 * kc, a5 = ai + 5 * kc;
        for (int p = 0; p < kc; p++, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector x = FloatVector.broadcast(S, a[a0 + p]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[a1 + p]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[a2 + p]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[a3 + p]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[a4 + p]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[a5 + p]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        long hi = (long) L * Float.BYTES;
        if (add) {
            c00 = c00.add(FloatVector.fromMemorySegment(S, c, co, NATIVE));
            c01 = c01.add(FloatVector.fromMemorySegment(S, c, co + hi, NATIVE));
            c10 = c10.add(FloatVector.fromMemorySegment(S, c, co + ldc, NATIVE));
            c11 = c11.add(FloatVector.fromMemorySegment(S, c, co + ldc + hi, NATIVE));
            c20 = c20.add(FloatVector.fromMemorySegment(S, c, co + 2 * ldc, NATIVE));
            c21 = c21.add(FloatVector.fromMemorySegment(S, c, co + 2 * ldc + hi, NATIVE));
            c30 = c30.add(FloatVector.fromMemorySegment(S, c, co + 3 * ldc, NATIVE));
            c31 = c31.add(FloatVector.fromMemorySegment(S, c, co + 3 * ldc + hi, NATIVE));
            c40 = c40.add(FloatVector.fromMemorySegment(S, c, co + 4 * ldc, NATIVE));
            c41 = c41.add(FloatVector.fromMemorySegment(S, c, co + 4 * ldc + hi, NATIVE));
            c50 = c50.add(FloatVector.fromMemorySegment(S, c, co + 5 * ldc, NATIVE));
            c51 = c51.add(FloatVector.fromMemorySegment(S, c, co + 5 * ldc + hi, NATIVE));
        }
        c00.intoMemorySegment(c, co, NATIVE);
        c01.intoMemorySegment(c, co + hi, NATIVE);
        c10.intoMemorySegment(c, co + ldc, NATIVE);
        c11.intoMemorySegment(c, co + ldc + hi, NATIVE);
        c20.intoMemorySegment(c, co + 2 * ldc, NATIVE);
        c21.intoMemorySegment(c, co + 2 * ldc + hi, NATIVE);
        c30.intoMemorySegment(c, co + 3 * ldc, NATIVE);
        c31.intoMemorySegment(c, co + 3 * ldc + hi, NATIVE);
        c40.intoMemorySegment(c, co + 4 * ldc, NATIVE);
        c41.intoMemorySegment(c, co + 4 * ldc + hi, NATIVE);
        c50.intoMemorySegment(c, co + 5 * ldc, NATIVE);
        c51.intoMemorySegment(c, co + 5 * ldc + hi, NATIVE);
    }

    /**
     * C[0:m, j0:j1] (+)= A[0:m, :] · B[:, j0:j1] for a handful of rows and row-major B, one row of C at a time,
     * four vectors of columns per pass down the reduction; the ragged end uses masked vectors.
     */
    private static void fewRows(int m, int j0, int j1, int k,
            MemorySegment a, long aOff, long aRs, long aCs,
            MemorySegment b, long bOff, long bRs,
            MemorySegment c, long cOff, long cRs, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            long ai = aOff + i * aRs;
            long crow = (cOff + i * cRs) * Float.BYTES;
            int j = j0;
            for (; j + 4 * L <= j1; j += 4 * L) fewRowsBlock(j, k, a, ai, aCs, b, bOff, bRs, c, crow, accumulate);
            for (; j < j1; j += L) fewRowsEdge(j, j1, k, a, ai, aCs, b, bOff, bRs, c, crow, accumulate);
        }
    }

    /**
     * Columns j .. j + 4L of one row of C. The block and the masked edge are methods of their own, kept small: one
     * method holding both was too large for C1's profiling tier (out of registers), which can leave the Vector API
     * running uncompiled in a mixed workload (see {@link #dots4}).
     */
    private static void fewRowsBlock(int j, int k, MemorySegment a, long ai, long aCs, MemorySegment b, long bOff, long bRs,
                                     MemorySegment c, long crow, boolean accumulate) {
        long ldb = bRs * Float.BYTES, v = (long) L * Float.BYTES;
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S);
        FloatVector s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        long bo = (bOff + j) * Float.BYTES;
        for (int p = 0; p < k; p++, bo += ldb) {
            FloatVector x = FloatVector.broadcast(S, a.getAtIndex(F, ai + p * aCs));
            s0 = x.fma(FloatVector.fromMemorySegment(S, b, bo, NATIVE), s0);
            s1 = x.fma(FloatVector.fromMemorySegment(S, b, bo + v, NATIVE), s1);
            s2 = x.fma(FloatVector.fromMemorySegment(S, b, bo + 2 * v, NATIVE), s2);
            s3 = x.fma(FloatVector.fromMemorySegment(S, b, bo + 3 * v, NATIVE), s3);
        }
        long co = crow + (long) j * Float.BYTES;
        if (accumulate) {
            s0 = s0.add(FloatVector.fromMemorySegment(S, c, co, NATIVE));
            s1 = s1.add(FloatVector.fromMemorySegment(S, c, co + v, NATIVE));
            s2 = s2.add(FloatVector.fromMemorySegment(S, c, co + 2 * v, NATIVE));
            s3 = s3.add(FloatVector.fromMemorySegment(S, c, co + 3 * v, NATIVE));
        }
        s0.intoMemorySegment(c, co, NATIVE);
        s1.intoMemorySegment(c, co + v, NATIVE);
        s2.intoMemorySegment(c, co + 2 * v, NATIVE);
        s3.intoMemorySegment(c, co + 3 * v, NATIVE);
    }

    /** Columns j .. min(j + L, j1) of one row of C, masked. */
    private static void fewRowsEdge(int j, int j1, int k, MemorySegment a, long ai, long aCs, MemorySegment b, long bOff, long bRs,
                                    MemorySegment c, long crow, boolean accumulate) {
        long ldb = bRs * Float.BYTES;
        VectorMask<Float> mask = S.indexInRange(j, j1);
        FloatVector s0 = FloatVector.zero(S);
        long bo = (bOff + j) * Float.BYTES;
        for (int p = 0; p < k; p++, bo += ldb) {
            FloatVector x = FloatVector.broadcast(S, a.getAtIndex(F, ai + p * aCs));
            s0 = x.fma(FloatVector.fromMemorySegment(S, b, bo, NATIVE, mask), s0);
        }
        long co = crow + (long) j * Float.BYTES;
        if (accumulate) s0 = s0.add(FloatVector.fromMemorySegment(S, c, co, NATIVE, mask));
        s0.intoMemorySegment(c, co, NATIVE, mask);
    }

    /**
     * Columns [j0, j1) of C for m rows, C[i][j] = ⟨A row i, B column j⟩ where both are contiguous (A row-major, B
     * stored transposed: column j at {@code bOff + j·bCs}): four columns at a time, their rows loaded once per
     * vector of k for each row of A, each sum reduced in {@link Lanes}'s fixed order (the same bits in every tier); B in
     * BF16 when {@code bf16B} ({@link #dots4Bf16}).
     */
    private static void fewRowsByDots(int m, int j0, int j1, int k,
            MemorySegment a, long aOff, long aRs,
            MemorySegment b, long bOff, long bCs,
            MemorySegment c, long cOff, long cRs, boolean accumulate, boolean bf16B) {
        float[] sums = new float[4];
        long eb = bf16B ? 2 : Float.BYTES; // bytes per element of B
        for (int j = j0; j < j1; j += 4) {
            int cols = Math.min(4, j1 - j);
            // Columns past j1 repeat the last one: their sums are computed and dropped.
            long b0 = (bOff + j * bCs) * eb, b1 = (bOff + (j + Math.min(1, cols - 1)) * bCs) * eb;
            long b2 = (bOff + (j + Math.min(2, cols - 1)) * bCs) * eb, b3 = (bOff + (j + Math.min(3, cols - 1)) * bCs) * eb;
            for (int i = 0; i < m; i++) {
                long ai = (aOff + i * aRs) * Float.BYTES;
                if (bf16B) dots4Bf16(k, a, ai, b, b0, b1, b2, b3, sums);
                else dots4(k, a, ai, b, b0, b1, b2, b3, sums);
                long co = (cOff + i * cRs + j) * Float.BYTES;
                for (int q = 0; q < cols; q++) {
                    long at = co + (long) q * Float.BYTES;
                    c.set(F, at, accumulate ? c.get(F, at) + sums[q] : sums[q]);
                }
            }
        }
    }

    /**
     * The four dot products of k floats at byte offset {@code ai} of A with those at {@code b0..b3} of B, into
     * {@code sums}. A method of its own, kept small: as part of the loops above it was too large for C1's
     * profiling tier, so it never reached C2 and ran the Vector API uncompiled (about twenty times slower).
     */
    private static void dots4(int k, MemorySegment a, long ai, MemorySegment b, long b0, long b1, long b2, long b3, float[] sums) {
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        long o = 0, v = (long) L * Float.BYTES;
        int p = 0;
        for (; p + L <= k; p += L, o += v) {
            FloatVector x = FloatVector.fromMemorySegment(S, a, ai + o, NATIVE);
            s0 = x.fma(FloatVector.fromMemorySegment(S, b, b0 + o, NATIVE), s0);
            s1 = x.fma(FloatVector.fromMemorySegment(S, b, b1 + o, NATIVE), s1);
            s2 = x.fma(FloatVector.fromMemorySegment(S, b, b2 + o, NATIVE), s2);
            s3 = x.fma(FloatVector.fromMemorySegment(S, b, b3 + o, NATIVE), s3);
        }
        float t0 = Lanes.sum(s0), t1 = Lanes.sum(s1), t2 = Lanes.sum(s2), t3 = Lanes.sum(s3);
        for (; p < k; p++, o += Float.BYTES) { // the last k mod L terms, in order, after the lanes' sums
            float x = a.get(F, ai + o);
            t0 = Math.fma(x, b.get(F, b0 + o), t0);
            t1 = Math.fma(x, b.get(F, b1 + o), t1);
            t2 = Math.fma(x, b.get(F, b2 + o), t2);
            t3 = Math.fma(x, b.get(F, b3 + o), t3);
        }
        sums[0] = t0;
        sums[1] = t1;
        sums[2] = t2;
        sums[3] = t3;
    }

    /**
     * {@link #dots4} with B's four rows in BF16 at byte offsets {@code b0..b3}: each value widened exactly to the float
     * it stands for and the products summed in dots4's order, so the sums are the F32 weight's, bit for bit.
     */
    private static void dots4Bf16(int k, MemorySegment a, long ai, MemorySegment b, long b0, long b1, long b2, long b3, float[] sums) {
        FloatVector s0 = FloatVector.zero(S), s1 = FloatVector.zero(S), s2 = FloatVector.zero(S), s3 = FloatVector.zero(S);
        long o = 0, ob = 0, v = (long) L * Float.BYTES, vb = (long) L * 2;
        int p = 0;
        for (; p + L <= k; p += L, o += v, ob += vb) {
            FloatVector x = FloatVector.fromMemorySegment(S, a, ai + o, NATIVE);
            s0 = x.fma(widen(b, b0 + ob), s0);
            s1 = x.fma(widen(b, b1 + ob), s1);
            s2 = x.fma(widen(b, b2 + ob), s2);
            s3 = x.fma(widen(b, b3 + ob), s3);
        }
        float t0 = Lanes.sum(s0), t1 = Lanes.sum(s1), t2 = Lanes.sum(s2), t3 = Lanes.sum(s3);
        for (; p < k; p++, o += Float.BYTES, ob += 2) {
            float x = a.get(F, ai + o);
            t0 = Math.fma(x, widen(b.get(BF16, b0 + ob)), t0);
            t1 = Math.fma(x, widen(b.get(BF16, b1 + ob)), t1);
            t2 = Math.fma(x, widen(b.get(BF16, b2 + ob)), t2);
            t3 = Math.fma(x, widen(b.get(BF16, b3 + ob)), t3);
        }
        sums[0] = t0;
        sums[1] = t1;
        sums[2] = t2;
        sums[3] = t3;
    }

    /** L BF16 values at byte offset {@code at} as floats: each one's 16 bits become the high half of a float's 32. */
    private static FloatVector widen(MemorySegment b, long at) {
        IntVector words = (IntVector) ShortVector.fromMemorySegment(HALVES, b, at, NATIVE).convertShape(VectorOperators.S2I, WORDS, 0);
        return words.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static float widen(short bits) { return Float.intBitsToFloat(bits << 16); }

    /** Writes the valid {@code mr × nr} corner of a computed tile into C. */
    private static void mergeTile(int mr, int nr, float[] tile, MemorySegment c, long co, long ldc, boolean add) {
        for (int r = 0; r < mr; r++, co += ldc) {
            for (int j = 0; j < nr; j++) {
                long at = co + (long) j * Float.BYTES;
                float v = tile[r * NR + j];
                c.set(F, at, add ? c.get(F, at) + v : v);
            }
        }
    }

    /**
     * Packs A[0:mc, 0:kc] (element (i, p) at {@code off + i*rs + p*cs}) into row panels of {@link #MR}: panel
     * {@code q} starts at {@code q*MR*kc} and holds rows {@code q*MR ..} one after the other, kc floats each,
     * zero rows past mc. Keeping A's rows intact (rather than interleaving them) makes packing the common
     * row-major A a plain copy; the kernel reads the six rows as six sequential streams.
     */
    private static void packA(int mc, int kc, MemorySegment a, long off, long rs, long cs, float[] ap, float[] block) {
        if (cs != 1 && rs == 1) { // transposed A (a weight gradient's gᵀ): row i of panel-order ap is ap[i·kc ..]
            // Columns of A (mc contiguous rows each) by bulk copy, COLUMNS at a time, then transposed on the heap
            // writing along ap's rows. Reading element by element checked the segment's liveness at every read (6 %
            // of a training step); scattering one whole column at a time wrote with a power-of-two stride that
            // kept evicting its own cache lines (10 %).
            for (int p0 = 0; p0 < kc; p0 += COLUMNS) {
                int n = Math.min(COLUMNS, kc - p0);
                for (int q = 0; q < n; q++) MemorySegment.copy(a, F, (off + (p0 + q) * cs) * Float.BYTES, block, q * mc, mc);
                for (int i = 0; i < mc; i++) {
                    for (int q = 0, d = i * kc + p0; q < n; q++) ap[d + q] = block[q * mc + i];
                }
            }
            int padded = (mc + MR - 1) / MR * MR;
            java.util.Arrays.fill(ap, mc * kc, padded * kc, 0f);
            return;
        }
        for (int i = 0; i < mc; i += MR) {
            int mr = Math.min(MR, mc - i);
            int dst = i * kc;
            long src = off + i * rs;
            if (cs == 1) {
                for (int r = 0; r < mr; r++) {
                    MemorySegment.copy(a, F, (src + r * rs) * Float.BYTES, ap, dst + r * kc, kc);
                }
            } else {
                // Transposed or strided A: read each column's few rows together (contiguous when rs == 1).
                for (int p = 0; p < kc; p++) {
                    long s = src + p * cs;
                    for (int r = 0; r < mr; r++) ap[dst + r * kc + p] = a.getAtIndex(F, s + r * rs);
                }
            }
            if (mr < MR) java.util.Arrays.fill(ap, dst + mr * kc, dst + MR * kc, 0f);
        }
    }

    /**
     * Packs B[0:kc, 0:nc] (element (p, j) at {@code off + p*rs + j*cs}) into column panels of {@link #NR}: panel
     * {@code q} holds columns {@code q*NR ..} as {@code kc} rows of NR consecutive floats, zero-padded past nc.
     */
    private static void packB(int kc, int nc, MemorySegment b, long off, long rs, long cs, float[] bp, float[] column) {
        for (int j = 0; j < nc; j += NR) {
            int nr = Math.min(NR, nc - j);
            int dst = j * kc;
            long src = off + j * cs;
            if (cs == 1 && nr == NR) {
                // Row-major B: each row of a panel is two vectors' worth of contiguous floats.
                long s = src * Float.BYTES, ld = rs * Float.BYTES, hi = (long) L * Float.BYTES;
                for (int p = 0; p < kc; p++, dst += NR, s += ld) {
                    FloatVector.fromMemorySegment(S, b, s, NATIVE).intoArray(bp, dst);
                    FloatVector.fromMemorySegment(S, b, s + hi, NATIVE).intoArray(bp, dst + L);
                }
            } else if (cs == 1) {
                for (int p = 0; p < kc; p++, dst += NR) {
                    MemorySegment.copy(b, F, (src + p * rs) * Float.BYTES, bp, dst, nr);
                    if (nr < NR) java.util.Arrays.fill(bp, dst + nr, dst + NR, 0f);
                }
            } else {
                // Transposed or strided B: walk each column down the reduction; when it is contiguous (rs == 1: a
                // linear layer's Wᵀ), one bulk copy per column scattered on the heap rather than a checked read per element.
                for (int jj = 0; jj < nr; jj++) {
                    long s = src + jj * cs;
                    if (rs == 1) {
                        MemorySegment.copy(b, F, s * Float.BYTES, column, 0, kc);
                        for (int p = 0, d = dst + jj; p < kc; p++, d += NR) bp[d] = column[p];
                    } else {
                        for (int p = 0, d = dst + jj; p < kc; p++, d += NR) bp[d] = b.getAtIndex(F, s + p * rs);
                    }
                }
                for (int jj = nr; jj < NR; jj++) {
                    for (int p = 0, d = dst + jj; p < kc; p++, d += NR) bp[d] = 0f;
                }
            }
        }
    }

    /**
     * {@link #packB}'s transposed case (a linear layer's Wᵀ: column j's kc values contiguous at {@code off + j·cs})
     * with B in BF16: each column's values are widened to floats on their way into the panel, the panel then holding
     * exactly what packing the widened F32 matrix would.
     */
    private static void packTransposedBf16B(int kc, int nc, MemorySegment b, long off, long cs, float[] bp, float[] column) {
        int vk = kc - kc % L;
        for (int j = 0; j < nc; j += NR) {
            int nr = Math.min(NR, nc - j);
            int dst = j * kc;
            for (int jj = 0; jj < nr; jj++) {
                long s = (off + (j + jj) * cs) * 2;
                int p = 0;
                for (; p < vk; p += L) widen(b, s + p * 2L).intoArray(column, p);
                for (; p < kc; p++) column[p] = widen(b.get(BF16, s + p * 2L));
                for (int q = 0, d = dst + jj; q < kc; q++, d += NR) bp[d] = column[q];
            }
            for (int jj = nr; jj < NR; jj++) {
                for (int p = 0, d = dst + jj; p < kc; p++, d += NR) bp[d] = 0f;
            }
        }
    }

}
