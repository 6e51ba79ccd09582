package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Random programs of one op each, over operands laid out at random — selected from a wider base, permuted,
 * narrowed, strided, broadcast by {@code expand} — in F32 and F64, against a float64 reference written here from
 * the ops' definitions. The reference reads each operand's values from its base through the layout's own index
 * arithmetic, not through the runtime's views, so a wrong stride or offset anywhere (in a view, in an op's strided
 * loop, in a vector path's tail, in a backward's broadcast reduction) shows as a wrong value.
 *
 * <p>Each program also runs backward from Σ out ⊙ W (W random): the F64 gradients of the bases are compared with
 * central differences where the bases are small, and the F32 gradients with the F64 ones everywhere.
 * {@code -Dfuzz.programs=N} and {@code -Dfuzz.seed=S} run more programs or other ones; a failure names the seed of
 * its program, which {@code -Dfuzz.only=SEED} runs alone.
 */
class OpFuzzTest {
    private static final int PROGRAMS = Integer.getInteger("fuzz.programs", 1200);
    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);
    private static final Long ONLY = Long.getLong("fuzz.only");
    /** Central differences run where the bases hold at most this many values together. */
    private static final int FD_LIMIT = 160;

    @Test
    void randomProgramsMatchTheReference() { fuzz(Device.cpu(), PROGRAMS); }

    /**
     * The same programs on cuda:0 — a GPU, or the CUDA emulator running the same CUDA C kernels on the CPU — with
     * the operands made on the host and moved there, results and gradients copied back. Fewer by default: the
     * emulator runs each launch's threads one after another.
     */
    @Test
    @Tag("gpu")
    void randomProgramsMatchTheReferenceOnCuda() {
        dev.tessera.runtime.cuda.Gpu.assumeAvailable();
        fuzz(Device.cuda(0), Integer.getInteger("fuzz.cudaPrograms", 300));
    }

    private static void fuzz(Device device, int programs) {
        List<String> failures = new ArrayList<>();
        SplittableRandom seeds = new SplittableRandom(SEED);
        int ran = 0, checkedByDifferences = 0;
        for (int i = 0; i < programs; i++) {
            long seed = seeds.nextLong();
            if (ONLY != null && seed != ONLY) continue;
            Program p = Program.random(new SplittableRandom(seed));
            try (Scope s = Scope.open()) {
                String failure = p.check(device);
                if (failure != null) failures.add("program seed " + seed + " (" + p + "): " + failure);
                if (p.totalBaseValues() <= FD_LIMIT && p.kind != Kind.IN_PLACE) checkedByDifferences++;
            } catch (RuntimeException | AssertionError e) {
                failures.add("program seed " + seed + " (" + p + "): threw " + e);
            }
            ran++;
        }
        System.out.printf("op fuzz on %s: %d programs (seed %d), %d also against central differences, %d failed%n", device, ran, SEED,
                checkedByDifferences, failures.size());
        assertTrue(failures.isEmpty(), failures.size() + " of " + ran + " programs failed; the first ones:\n"
                + String.join("\n", failures.subList(0, Math.min(8, failures.size()))));
    }

    // ------------------------------------------------------------------ the reference's arrays

    /** Row-major values of a logical shape. */
    record Nd(int[] shape, double[] v) {
        Nd(int[] shape) { this(shape, new double[numel(shape)]); }

        int rank() { return shape.length; }

        double at(int[] idx) { return v[flat(shape, idx)]; }

        /** The value at {@code idx} of a broadcast to {@code outShape} (NumPy rules: dims aligned on the right). */
        double broadcastAt(int[] outIdx) {
            int[] idx = new int[shape.length];
            int lead = outIdx.length - shape.length;
            for (int d = 0; d < shape.length; d++) idx[d] = shape[d] == 1 ? 0 : outIdx[lead + d];
            return at(idx);
        }

        Nd map(DoubleUnaryOperator f) {
            Nd out = new Nd(shape.clone());
            for (int i = 0; i < v.length; i++) out.v[i] = f.applyAsDouble(v[i]);
            return out;
        }
    }

    static int numel(int[] shape) {
        int n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    static int flat(int[] shape, int[] idx) {
        int f = 0;
        for (int d = 0; d < shape.length; d++) f = f * shape[d] + idx[d];
        return f;
    }

    static int[] unflat(int[] shape, int f) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = f % shape[d];
            f /= shape[d];
        }
        return idx;
    }

    static int[] broadcastShape(int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int d = 0; d < r; d++) {
            int x = d - (r - a.length) >= 0 ? a[d - (r - a.length)] : 1, y = d - (r - b.length) >= 0 ? b[d - (r - b.length)] : 1;
            out[d] = Math.max(x, y);
        }
        return out;
    }

    // ------------------------------------------------------------------ operands laid out at random

    /**
     * How an operand of logical shape {@code shape} sits in its base: the base has an extra leading dim the
     * operand selects one index of (or none), stores the dims in a permuted order, is wider than the operand in
     * some dims (a narrow at an offset), takes every second element in some (a slice with step 2), and has size 1
     * in the dims the operand broadcasts with {@code expand}.
     */
    static final class Layout {
        final int[] shape;
        final boolean[] expanded, stepped;
        final int[] offset, extra;
        final int[] perm; // base dim i holds logical dim perm[i]
        final int selectSize, selectIndex; // selectSize 0: no select
        final int[] baseShape;

        Layout(int[] shape, SplittableRandom r, boolean allowExpand) { this(shape, r, allowExpand, -1); }

        /** {@code fixedDim}: a dim never broadcast (a norm's: a constant row's rounding is amplified by 1/√eps). */
        Layout(int[] shape, SplittableRandom r, boolean allowExpand, int fixedDim) {
            int n = shape.length;
            this.shape = shape.clone();
            expanded = new boolean[n];
            stepped = new boolean[n];
            offset = new int[n];
            extra = new int[n];
            int[] inner = new int[n];
            for (int d = 0; d < n; d++) {
                expanded[d] = allowExpand && d != fixedDim && shape[d] > 1 && r.nextInt(6) == 0;
                int s = expanded[d] ? 1 : shape[d];
                stepped[d] = s > 1 && r.nextInt(5) == 0;
                if (stepped[d]) s = 2 * s - 1 + r.nextInt(2);
                if (r.nextInt(3) == 0) {
                    extra[d] = 1 + r.nextInt(3);
                    offset[d] = r.nextInt(extra[d] + 1);
                }
                inner[d] = s + extra[d];
            }
            perm = identity(n);
            if (n > 1 && r.nextInt(3) == 0) shuffle(perm, r);
            boolean select = r.nextInt(4) == 0;
            selectSize = select ? 2 + r.nextInt(2) : 0;
            selectIndex = select ? r.nextInt(selectSize) : 0;
            int[] stored = new int[n];
            for (int i = 0; i < n; i++) stored[i] = inner[perm[i]];
            if (select) {
                baseShape = new int[n + 1];
                baseShape[0] = selectSize;
                System.arraycopy(stored, 0, baseShape, 1, n);
            } else {
                baseShape = stored;
            }
        }

        boolean isPlain() {
            if (selectSize != 0 || !Arrays.equals(perm, identity(shape.length))) return false;
            for (int d = 0; d < shape.length; d++) if (expanded[d] || stepped[d] || extra[d] != 0) return false;
            return true;
        }

        /** The operand as a view of {@code base}, built with the runtime's view ops. */
        Tensor view(Tensor base) {
            int n = shape.length;
            Tensor t = selectSize != 0 ? base.select(0, selectIndex) : base;
            int[] inverse = new int[n];
            for (int i = 0; i < n; i++) inverse[perm[i]] = i;
            if (n > 1) t = t.permute(inverse);
            for (int d = 0; d < n; d++) {
                int s = t.size(d) - extra[d];
                if (extra[d] != 0) t = t.narrow(d, offset[d], s);
                if (stepped[d]) t = t.slice(d, 0, s, 2);
            }
            return anyExpanded() ? t.expand(shape) : t;
        }

        private boolean anyExpanded() {
            for (boolean e : expanded) if (e) return true;
            return false;
        }

        /** Where logical index {@code idx} lies in the base's row-major values: the layout's own arithmetic. */
        int baseIndex(int[] idx) {
            int n = shape.length;
            int[] inner = new int[n];
            for (int d = 0; d < n; d++) {
                int i = expanded[d] ? 0 : idx[d];
                if (stepped[d]) i *= 2;
                inner[d] = i + offset[d];
            }
            int[] b = new int[baseShape.length];
            int lead = selectSize != 0 ? 1 : 0;
            if (lead == 1) b[0] = selectIndex;
            for (int i = 0; i < n; i++) b[lead + i] = inner[perm[i]];
            return flat(baseShape, b);
        }

        Nd values(double[] base) {
            Nd out = new Nd(shape.clone());
            for (int f = 0; f < out.v.length; f++) out.v[f] = base[baseIndex(unflat(shape, f))];
            return out;
        }

        @Override
        public String toString() {
            if (isPlain()) return Arrays.toString(shape);
            StringBuilder sb = new StringBuilder(Arrays.toString(shape)).append(" from base ").append(Arrays.toString(baseShape));
            if (selectSize != 0) sb.append(" select ").append(selectIndex);
            if (!Arrays.equals(perm, identity(shape.length))) sb.append(" perm ").append(Arrays.toString(perm));
            sb.append(" narrow ").append(Arrays.toString(offset)).append('+').append(Arrays.toString(extra));
            sb.append(" step2 ").append(Arrays.toString(stepped)).append(" expand ").append(Arrays.toString(expanded));
            return sb.toString();
        }
    }

    static int[] identity(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        return p;
    }

    static void shuffle(int[] a, SplittableRandom r) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** Sizes that meet the vector paths' edges: 1, small, a vector's worth and one past it. */
    private static final int[] SIZES = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};

    static int[] randomShape(SplittableRandom r, int minRank, int maxRank, int maxNumel) {
        for (;;) {
            int n = minRank + r.nextInt(maxRank - minRank + 1);
            int[] s = new int[n];
            for (int d = 0; d < n; d++) s[d] = SIZES[r.nextInt(SIZES.length)];
            if (numel(s) <= maxNumel) return s;
        }
    }

    // ------------------------------------------------------------------ programs

    enum Kind {
        UNARY, BINARY, SCALAR, WHERE, REDUCE, SOFTMAX, CUMULATIVE, MATMUL, CAT, TRIANGLE, PAD, INDEX_SELECT, CONTIGUOUS, NORM, LINEAR, CONV, CROSS_ENTROPY,
        EMBEDDING, IN_PLACE
    }

    /** One op on operands with their layouts and base values. */
    static final class Program {
        final Kind kind;
        final String op;
        final Layout[] layouts;
        final double[][] bases;
        final int dim;
        final int[] dims;
        final boolean keepdim;
        final double param;
        final long[] indices;
        final int[] pads;
        /** A smooth op applied to an operand's base before its view is taken (so the view is of a non-leaf), or null. */
        final String[] preOps;

        private Program(Kind kind, String op, Layout[] layouts, SplittableRandom r, int dim, int[] dims, boolean keepdim, double param,
                        long[] indices, int[] pads) {
            this.kind = kind;
            this.op = op;
            this.layouts = layouts;
            this.dim = dim;
            this.dims = dims;
            this.keepdim = keepdim;
            this.param = param;
            this.indices = indices;
            this.pads = pads;
            bases = new double[layouts.length][];
            for (int i = 0; i < layouts.length; i++) {
                double[] b = new double[numel(layouts[i].baseShape)];
                for (int j = 0; j < b.length; j++) {
                    double m = 0.05 + 1.95 * r.nextDouble(); // away from 0, where |x|, relu and sign bend
                    b[j] = (float) (r.nextBoolean() ? m : -m); // F32 and F64 then compute on the same values
                }
                bases[i] = b;
            }
            preOps = new String[layouts.length];
            for (int i = 0; i < layouts.length; i++) if (kind != Kind.IN_PLACE && r.nextInt(4) == 0) preOps[i] = PRE_OPS[r.nextInt(PRE_OPS.length)];
        }

        /** Smooth, and never near 0 on the bases' values (|x| ≥ 0.05), where later ops may bend. */
        static final String[] PRE_OPS = {"neg", "tanh", "sigmoid", "square", "exp"};
        static final String[] IN_PLACE = {"addInPlace", "mulInPlace", "copyFrom", "fill", "affineInPlace"};

        static final String[] UNARY = {"neg", "exp", "log", "log1p", "sqrt", "rsqrt", "abs", "tanh", "sigmoid", "relu", "gelu", "geluTanh",
                "silu", "softplus", "clamp", "square", "cube"};
        static final String[] BINARY = {"add", "sub", "mul", "div", "maximum", "minimum", "pow"};
        static final String[] SCALAR = {"add", "mul", "sub", "div"};
        static final String[] REDUCE = {"sum", "mean", "max", "min", "var", "logsumexp"};

        static Program random(SplittableRandom r) {
            Kind kind = Kind.values()[r.nextInt(Kind.values().length)];
            switch (kind) {
                case UNARY, SCALAR, CONTIGUOUS: {
                    int[] s = randomShape(r, 1, 4, 1500);
                    String op = kind == Kind.UNARY ? UNARY[r.nextInt(UNARY.length)] : kind == Kind.SCALAR ? SCALAR[r.nextInt(SCALAR.length)] : "contiguous";
                    return new Program(kind, op, new Layout[] {new Layout(s, r, true)}, r, 0, null, false, 0.25 + 1.5 * r.nextDouble(), null, null);
                }
                case BINARY, WHERE: {
                    int[] out = randomShape(r, 1, 4, 1500);
                    int operands = kind == Kind.WHERE ? 3 : 2;
                    Layout[] ls = new Layout[operands];
                    for (int i = 0; i < operands; i++) ls[i] = new Layout(broadcastable(out, r), r, true);
                    ls[r.nextInt(operands)] = new Layout(out, r, true); // at least one operand has the full shape
                    String op = kind == Kind.WHERE ? "where" : BINARY[r.nextInt(BINARY.length)];
                    return new Program(kind, op, ls, r, 0, null, false, 0, null, null);
                }
                case REDUCE: {
                    int[] s = randomShape(r, 1, 4, 1500);
                    List<Integer> chosen = new ArrayList<>();
                    for (int d = 0; d < s.length; d++) if (r.nextInt(2) == 0) chosen.add(d);
                    if (chosen.isEmpty()) chosen.add(r.nextInt(s.length));
                    int[] dims = chosen.stream().mapToInt(Integer::intValue).toArray();
                    String op = REDUCE[r.nextInt(REDUCE.length)];
                    if (op.equals("var") && reducedCount(s, dims) < 2) op = "sum";
                    return new Program(kind, op, new Layout[] {new Layout(s, r, true)}, r, 0, dims, r.nextBoolean(), 0, null, null);
                }
                case SOFTMAX, CUMULATIVE: {
                    int[] s = randomShape(r, 1, 4, 1500);
                    String op = kind == Kind.SOFTMAX ? (r.nextBoolean() ? "softmax" : "logSoftmax") : (r.nextBoolean() ? "cumsum" : "cumprod");
                    return new Program(kind, op, new Layout[] {new Layout(s, r, true)}, r, r.nextInt(s.length), null, false, 0, null, null);
                }
                case MATMUL: {
                    int m = SIZES[r.nextInt(SIZES.length)], k = SIZES[r.nextInt(SIZES.length)], n = SIZES[r.nextInt(SIZES.length)];
                    int[] batch = randomShape(r, 0, 2, 6);
                    int[] aBatch = batch.clone(), bBatch = batch.clone();
                    for (int d = 0; d < batch.length; d++) { // broadcast batch dims on either side
                        if (r.nextInt(4) == 0) aBatch[d] = 1;
                        else if (r.nextInt(4) == 0) bBatch[d] = 1;
                    }
                    int[] a = concat(r.nextInt(4) == 0 ? new int[0] : aBatch, m, k), b = concat(r.nextInt(4) == 0 ? new int[0] : bBatch, k, n);
                    return new Program(kind, "matmul", new Layout[] {new Layout(a, r, true), new Layout(b, r, true)}, r, 0, null, false, 0, null, null);
                }
                case CAT: {
                    int[] s = randomShape(r, 1, 3, 600);
                    int d = r.nextInt(s.length);
                    int[] t = s.clone();
                    t[d] = SIZES[r.nextInt(SIZES.length)];
                    return new Program(kind, "cat", new Layout[] {new Layout(s, r, true), new Layout(t, r, true)}, r, d, null, false, 0, null, null);
                }
                case TRIANGLE: {
                    int[] s = randomShape(r, 2, 4, 1500);
                    return new Program(kind, r.nextBoolean() ? "triu" : "tril", new Layout[] {new Layout(s, r, true)}, r, 0, null, false,
                            r.nextInt(5) - 2, null, null);
                }
                case PAD: {
                    int[] s = randomShape(r, 1, 3, 600);
                    int padded = 1 + r.nextInt(s.length);
                    int[] pads = new int[2 * padded];
                    for (int i = 0; i < pads.length; i++) pads[i] = r.nextInt(3);
                    return new Program(kind, "pad", new Layout[] {new Layout(s, r, true)}, r, 0, null, false, r.nextDouble() - 0.5, null, pads);
                }
                case INDEX_SELECT: {
                    int[] s = randomShape(r, 1, 3, 600);
                    int d = r.nextInt(s.length);
                    long[] idx = new long[1 + r.nextInt(9)];
                    for (int i = 0; i < idx.length; i++) idx[i] = r.nextInt(s[d]); // repeats: the backward must add them up
                    return new Program(kind, "indexSelect", new Layout[] {new Layout(s, r, true)}, r, d, null, false, 0, idx, null);
                }
                case NORM: {
                    int[] s = randomShape(r, 1, 3, 800);
                    // Rows of at least 4: two nearly equal values in a row of 2 make its variance tiny and the F32
                    // backward ill-conditioned (1e-3 relative error from F32 rounding alone, on the CPU's or a GPU's
                    // formula), which would hide real errors behind a looser tolerance.
                    s[s.length - 1] = Math.max(4, s[s.length - 1]);
                    int d = s[s.length - 1];
                    boolean rms = r.nextBoolean();
                    Layout x = new Layout(s, r, true, s.length - 1);
                    Layout[] ls = rms ? new Layout[] {x, new Layout(new int[] {d}, r, true)}
                            : new Layout[] {x, new Layout(new int[] {d}, r, true), new Layout(new int[] {d}, r, true)};
                    return new Program(kind, rms ? "rmsNorm" : "layerNorm", ls, r, 0, null, false, 1e-5, null, null);
                }
                case LINEAR: {
                    int[] x = randomShape(r, 1, 3, 300);
                    int out = SIZES[r.nextInt(SIZES.length)];
                    boolean bias = r.nextBoolean();
                    Layout w = new Layout(new int[] {out, x[x.length - 1]}, r, true);
                    Layout[] ls = bias ? new Layout[] {new Layout(x, r, true), w, new Layout(new int[] {out}, r, true)}
                            : new Layout[] {new Layout(x, r, true), w};
                    return new Program(kind, "linear", ls, r, 0, null, false, 0, null, null);
                }
                case CONV: {
                    int b = 1 + r.nextInt(3), l = SIZES[r.nextInt(SIZES.length)], c = SIZES[r.nextInt(SIZES.length)], k = 1 + r.nextInt(4);
                    boolean bias = r.nextBoolean();
                    Layout[] ls = bias
                            ? new Layout[] {new Layout(new int[] {b, l, c}, r, true), new Layout(new int[] {c, k}, r, true), new Layout(new int[] {c}, r, true)}
                            : new Layout[] {new Layout(new int[] {b, l, c}, r, true), new Layout(new int[] {c, k}, r, true)};
                    return new Program(kind, "causalConv1d", ls, r, 0, null, false, 0, null, null);
                }
                case CROSS_ENTROPY: {
                    int[] s = randomShape(r, 1, 3, 800);
                    int classes = s[s.length - 1];
                    long[] targets = new long[numel(Arrays.copyOf(s, s.length - 1))];
                    for (int i = 0; i < targets.length; i++) targets[i] = r.nextInt(5) == 0 ? -100 : r.nextInt(classes);
                    Functional.Reduction red = Functional.Reduction.values()[r.nextInt(3)];
                    return new Program(kind, "crossEntropy/" + red, new Layout[] {new Layout(s, r, true)}, r, 0, null, false, red.ordinal(), targets, null);
                }
                case EMBEDDING: {
                    int v = SIZES[r.nextInt(SIZES.length)], d = SIZES[r.nextInt(SIZES.length)];
                    int[] idxShape = randomShape(r, 1, 2, 40);
                    long[] idx = new long[numel(idxShape)];
                    for (int i = 0; i < idx.length; i++) idx[i] = r.nextInt(v); // repeats: the backward adds them up
                    return new Program(kind, "embedding", new Layout[] {new Layout(new int[] {v, d}, r, true)}, r, 0, idxShape, false, 0, idx, null);
                }
                case IN_PLACE: {
                    int[] s = randomShape(r, 1, 4, 1500);
                    String op = IN_PLACE[r.nextInt(IN_PLACE.length)];
                    // The destination is never broadcast (writes to one element through several positions); the source may be.
                    Layout dst = new Layout(s, r, false), src = new Layout(broadcastable(s, r), r, true);
                    Layout[] ls = op.equals("fill") || op.equals("affineInPlace") ? new Layout[] {dst} : new Layout[] {dst, src};
                    return new Program(kind, op, ls, r, 0, null, false, 0.25 + 1.5 * r.nextDouble(), null, null);
                }
                default:
                    throw new AssertionError(kind);
            }
        }

        static int[] broadcastable(int[] out, SplittableRandom r) {
            int drop = r.nextInt(out.length + 1) == 0 ? r.nextInt(out.length) : 0;
            int[] s = Arrays.copyOfRange(out, drop, out.length);
            for (int d = 0; d < s.length; d++) if (r.nextInt(3) == 0) s[d] = 1;
            return s.length == 0 ? new int[] {1} : s;
        }

        static int reducedCount(int[] s, int[] dims) {
            int n = 1;
            for (int d : dims) n *= s[d];
            return n;
        }

        static int[] concat(int[] batch, int x, int y) {
            int[] s = Arrays.copyOf(batch, batch.length + 2);
            s[batch.length] = x;
            s[batch.length + 1] = y;
            return s;
        }

        int totalBaseValues() {
            int n = 0;
            for (double[] b : bases) n += b.length;
            return n;
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(op).append(" of ");
            for (int i = 0; i < layouts.length; i++) sb.append(i == 0 ? "" : ", ").append(layouts[i]);
            if (kind == Kind.REDUCE) sb.append(" dims ").append(Arrays.toString(dims)).append(keepdim ? " keepdim" : "");
            if (kind == Kind.SOFTMAX || kind == Kind.CUMULATIVE || kind == Kind.CAT || kind == Kind.INDEX_SELECT) sb.append(" dim ").append(dim);
            if (kind == Kind.INDEX_SELECT) sb.append(" indices ").append(Arrays.toString(indices));
            if (kind == Kind.PAD) sb.append(" pads ").append(Arrays.toString(pads));
            if (kind == Kind.CROSS_ENTROPY || kind == Kind.EMBEDDING) sb.append(" indices ").append(Arrays.toString(indices));
            if (kind == Kind.TRIANGLE) sb.append(" k ").append((int) param);
            for (int i = 0; i < preOps.length; i++) if (preOps[i] != null) sb.append(", operand ").append(i).append(" a view of ").append(preOps[i]).append("(base)");
            return sb.toString();
        }

        // -------------------------------------------------------------- running it

        /** The bases as leaves of {@code dtype} (with gradients when {@code grad}) and the op's output on their views. */
        Tensor run(Device device, DType dtype, double[][] values, Tensor[] leaves) {
            Tensor[] x = new Tensor[layouts.length];
            for (int i = 0; i < layouts.length; i++) {
                leaves[i] = Tensor.of(values[i], layouts[i].baseShape).to(dtype).to(device).requiresGrad(kind != Kind.IN_PLACE);
                Tensor base = preOps[i] == null ? leaves[i] : switch (preOps[i]) {
                    case "neg" -> leaves[i].neg();
                    case "tanh" -> leaves[i].tanh();
                    case "sigmoid" -> leaves[i].sigmoid();
                    case "square" -> leaves[i].mul(leaves[i]);
                    case "exp" -> leaves[i].exp();
                    default -> throw new AssertionError(preOps[i]);
                };
                x[i] = layouts[i].view(base);
            }
            Tensor a = x[0];
            return switch (kind) {
                case UNARY -> switch (op) {
                    case "neg" -> a.neg();
                    case "exp" -> a.exp();
                    case "log" -> a.abs().add(0.25).log();
                    case "log1p" -> a.abs().log1p();
                    case "sqrt" -> a.abs().add(0.25).sqrt();
                    case "rsqrt" -> a.abs().add(0.25).rsqrt();
                    case "abs" -> a.abs();
                    case "tanh" -> a.tanh();
                    case "sigmoid" -> a.sigmoid();
                    case "relu" -> a.relu();
                    case "gelu" -> a.gelu();
                    case "geluTanh" -> a.geluTanh();
                    case "silu" -> a.silu();
                    case "softplus" -> a.softplus();
                    case "clamp" -> a.clamp(-0.5, 0.7);
                    case "square" -> a.pow(2);
                    case "cube" -> a.pow(3);
                    default -> throw new AssertionError(op);
                };
                case SCALAR -> switch (op) {
                    case "add" -> a.add(param);
                    case "mul" -> a.mul(param);
                    case "sub" -> a.sub(param);
                    case "div" -> a.div(param);
                    default -> throw new AssertionError(op);
                };
                case CONTIGUOUS -> a.contiguous();
                case BINARY -> switch (op) {
                    case "add" -> a.add(x[1]);
                    case "sub" -> a.sub(x[1]);
                    case "mul" -> a.mul(x[1]);
                    case "div" -> a.div(x[1].abs().add(0.25));
                    case "maximum" -> a.maximum(x[1]);
                    case "minimum" -> a.minimum(x[1]);
                    case "pow" -> a.abs().add(0.25).pow(x[1]);
                    default -> throw new AssertionError(op);
                };
                case WHERE -> a.where(x[2].gt(Tensor.zeros(dtype, device, 1)), x[1]);
                case REDUCE -> switch (op) {
                    case "sum" -> a.sum(dims, keepdim);
                    case "mean" -> a.mean(dims, keepdim);
                    case "max" -> a.max(dims, keepdim);
                    case "min" -> a.min(dims, keepdim);
                    case "var" -> a.var(dims, true, keepdim);
                    case "logsumexp" -> a.logsumexp(dims, keepdim);
                    default -> throw new AssertionError(op);
                };
                case SOFTMAX -> op.equals("softmax") ? a.softmax(dim) : a.logSoftmax(dim);
                case CUMULATIVE -> op.equals("cumsum") ? a.cumsum(dim) : a.cumprod(dim);
                case MATMUL -> a.matmul(x[1]);
                case CAT -> Tensor.cat(List.of(a, x[1]), dim);
                case TRIANGLE -> op.equals("triu") ? a.triu((int) param) : a.tril((int) param);
                case PAD -> a.pad(pads, param);
                case INDEX_SELECT -> a.indexSelect(dim, Tensor.of(indices, indices.length).to(device));
                case NORM -> op.equals("rmsNorm") ? Functional.rmsNorm(a, x[1], param) : Functional.layerNorm(a, x[1], x[2], param);
                case LINEAR -> Functional.linear(a, x[1], x.length > 2 ? x[2] : null);
                case CONV -> Functional.causalConv1d(a, x[1], x.length > 2 ? x[2] : null);
                case CROSS_ENTROPY -> Functional.crossEntropy(a, Tensor.of(indices, Arrays.copyOf(a.shape(), a.dim() - 1)).to(device), -100,
                        Functional.Reduction.values()[(int) param]);
                case EMBEDDING -> a.embedding(Tensor.of(indices, dims).to(device));
                case IN_PLACE -> {
                    switch (op) { // through the view into the destination's base, which is the result
                        case "addInPlace" -> a.addInPlace(x[1]);
                        case "mulInPlace" -> a.mulInPlace(x[1]);
                        case "copyFrom" -> a.copyFrom(x[1]);
                        case "fill" -> a.fill(param);
                        case "affineInPlace" -> a.affineInPlace(param, -0.5);
                        default -> throw new AssertionError(op);
                    }
                    yield leaves[0];
                }
            };
        }

        /** The reference's output from the operands' values (read through the layouts, not the runtime's views). */
        Nd reference(double[][] values) {
            Nd[] x = new Nd[layouts.length];
            for (int i = 0; i < layouts.length; i++) {
                double[] base = values[i];
                if (preOps[i] != null) base = new Nd(layouts[i].baseShape, base).map(Reference.unary(preOps[i])).v();
                x[i] = layouts[i].values(base);
            }
            if (kind == Kind.IN_PLACE) return Reference.inPlace(this, values[0], x);
            return Reference.of(this, x);
        }

        /** Null when the program's values and gradients are right, else what is wrong. */
        String check(Device device) {
            Nd expected = reference(bases);
            Tensor[] l64 = new Tensor[layouts.length], l32 = new Tensor[layouts.length];
            Tensor out64 = run(device, DType.F64, bases, l64), out32 = run(device, DType.F32, bases, l32);
            String bad = compare("F64 output", out64, expected, 1e-10);
            if (bad == null) bad = compare("F32 output", out32, expected, 2e-5);
            if (bad != null || kind == Kind.IN_PLACE) return bad; // in-place ops record no gradient
            // Backward from Σ out ⊙ W.
            double[] w = new double[expected.v.length];
            SplittableRandom r = new SplittableRandom(Arrays.hashCode(expected.shape) + 31L * w.length);
            for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextDouble() * 2 - 1);
            Tensor w64 = Tensor.of(w, expected.shape).to(device), w32 = w64.to(DType.F32);
            out64.mul(w64).sum().backward();
            out32.mul(w32).sum().backward();
            double[][] g64 = new double[layouts.length][];
            for (int i = 0; i < layouts.length; i++) {
                g64[i] = l64[i].grad() == null ? new double[bases[i].length] : l64[i].grad().toDoubleArray();
                double[] g32 = l32[i].grad() == null ? new double[bases[i].length] : l32[i].grad().toDoubleArray();
                String g = compareArrays("F32 gradient of operand " + i, g32, g64[i], 2e-4);
                if (g != null) return g;
            }
            if (totalBaseValues() > FD_LIMIT) return null;
            for (int i = 0; i < layouts.length; i++) {
                double[] numeric = new double[bases[i].length];
                for (int j = 0; j < numeric.length; j++) {
                    double keep = bases[i][j], h = 1e-6;
                    bases[i][j] = keep + h;
                    double plus = dot(reference(bases).v, w);
                    bases[i][j] = keep - h;
                    double minus = dot(reference(bases).v, w);
                    bases[i][j] = keep;
                    numeric[j] = (plus - minus) / (2 * h);
                }
                String g = compareArrays("F64 gradient of operand " + i + " against central differences", g64[i], numeric, 1e-5);
                if (g != null) return g;
            }
            return null;
        }

        private static double dot(double[] a, double[] b) {
            double s = 0;
            for (int i = 0; i < a.length; i++) s += a[i] * b[i];
            return s;
        }

        private static String compare(String what, Tensor out, Nd expected, double rtol) {
            if (!Arrays.equals(out.shape(), expected.shape)) {
                return what + " has shape " + Arrays.toString(out.shape()) + ", expected " + Arrays.toString(expected.shape);
            }
            return compareArrays(what, out.toDoubleArray(), expected.v, rtol);
        }

        /**
         * Within rtol of the larger of 1 and the largest expected magnitude (sums of many terms round at that scale).
         * The expected values come from the reference or the F64 run, and every one must be finite.
         */
        private static String compareArrays(String what, double[] got, double[] expected, double rtol) {
            double scale = 1;
            for (int i = 0; i < expected.length; i++) {
                if (!Double.isFinite(expected[i])) return what + ": the value it is compared with at [" + i + "] is " + expected[i];
                scale = Math.max(scale, Math.abs(expected[i]));
            }
            for (int i = 0; i < got.length; i++) {
                double d = Math.abs(got[i] - expected[i]);
                if (!(d <= rtol * scale)) return what + " [" + i + "] is " + got[i] + ", expected " + expected[i] + " (scale " + scale + ")";
            }
            return null;
        }
    }

    // ------------------------------------------------------------------ the reference, from the definitions

    static final class Reference {
        private Reference() {}

        static Nd of(Program p, Nd[] x) {
            Nd a = x[0];
            return switch (p.kind) {
                case UNARY -> a.map(unary(p.op));
                case SCALAR -> a.map(switch (p.op) {
                    case "add" -> v -> v + p.param;
                    case "mul" -> v -> v * p.param;
                    case "sub" -> v -> v - p.param;
                    case "div" -> v -> v / p.param;
                    default -> throw new AssertionError(p.op);
                });
                case CONTIGUOUS -> a;
                case BINARY -> binary(p.op, a, x[1]);
                case WHERE -> where(x[2], a, x[1]);
                case REDUCE -> reduce(p.op, a, p.dims, p.keepdim);
                case SOFTMAX -> softmax(a, p.dim, p.op.equals("logSoftmax"));
                case CUMULATIVE -> cumulative(a, p.dim, p.op.equals("cumprod"));
                case MATMUL -> matmul(a, x[1]);
                case CAT -> cat(a, x[1], p.dim);
                case TRIANGLE -> triangle(a, (int) p.param, p.op.equals("triu"));
                case PAD -> pad(a, p.pads, p.param);
                case INDEX_SELECT -> indexSelect(a, p.dim, p.indices);
                case NORM -> norm(a, x[1], x.length > 2 ? x[2] : null, p.param);
                case LINEAR -> linear(a, x[1], x.length > 2 ? x[2] : null);
                case CONV -> conv(a, x[1], x.length > 2 ? x[2] : null);
                case CROSS_ENTROPY -> crossEntropy(a, p.indices, Functional.Reduction.values()[(int) p.param]);
                case EMBEDDING -> embedding(a, p.indices, p.dims);
                case IN_PLACE -> throw new AssertionError("in-place programs have their own reference, inPlace");
            };
        }

        /** The destination's whole base after the op wrote through its view (x[0] its values there, x[1] the source). */
        static Nd inPlace(Program p, double[] base, Nd[] x) {
            Layout dst = p.layouts[0];
            Nd out = new Nd(dst.baseShape, base.clone());
            for (int f = 0; f < x[0].v.length; f++) {
                int[] idx = unflat(dst.shape, f);
                double v = x[0].v[f];
                out.v[dst.baseIndex(idx)] = switch (p.op) {
                    case "addInPlace" -> v + x[1].broadcastAt(idx);
                    case "mulInPlace" -> v * x[1].broadcastAt(idx);
                    case "copyFrom" -> x[1].broadcastAt(idx);
                    case "fill" -> p.param;
                    case "affineInPlace" -> p.param * v - 0.5;
                    default -> throw new AssertionError(p.op);
                };
            }
            return out;
        }

        static DoubleUnaryOperator unary(String op) {
            return switch (op) {
                case "neg" -> v -> -v;
                case "exp" -> Math::exp;
                case "log" -> v -> Math.log(Math.abs(v) + 0.25);
                case "log1p" -> v -> Math.log1p(Math.abs(v));
                case "sqrt" -> v -> Math.sqrt(Math.abs(v) + 0.25);
                case "rsqrt" -> v -> 1 / Math.sqrt(Math.abs(v) + 0.25);
                case "abs" -> Math::abs;
                case "tanh" -> Math::tanh;
                case "sigmoid" -> v -> 1 / (1 + Math.exp(-v));
                case "relu" -> v -> Math.max(v, 0);
                case "gelu" -> v -> 0.5 * v * (1 + erf(v / Math.sqrt(2)));
                case "geluTanh" -> v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                case "silu" -> v -> v / (1 + Math.exp(-v));
                case "softplus" -> v -> Math.log1p(Math.exp(v));
                case "clamp" -> v -> Math.min(Math.max(v, -0.5), 0.7);
                case "square" -> v -> v * v;
                case "cube" -> v -> v * v * v;
                default -> throw new AssertionError(op);
            };
        }

        /** erf to about 1e-15 (Abramowitz–Stegun 7.1.26 is too coarse for a float64 reference): its Taylor series, then the continued fraction of erfc. */
        static double erf(double x) {
            double ax = Math.abs(x);
            if (ax < 2.5) {
                double term = ax, sum = ax;
                for (int n = 1; n < 80; n++) {
                    term *= -ax * ax / n;
                    sum += term / (2 * n + 1);
                }
                return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
            }
            double f = 0; // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
            for (int n = 60; n >= 1; n--) f = (n / 2.0) / (ax + f);
            double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
            return Math.signum(x) * (1 - erfc);
        }

        static Nd binary(String op, Nd a, Nd b) {
            Nd out = new Nd(broadcastShape(a.shape, b.shape));
            for (int f = 0; f < out.v.length; f++) {
                int[] idx = unflat(out.shape, f);
                double x = a.broadcastAt(idx), y = b.broadcastAt(idx);
                out.v[f] = switch (op) {
                    case "add" -> x + y;
                    case "sub" -> x - y;
                    case "mul" -> x * y;
                    case "div" -> x / (Math.abs(y) + 0.25);
                    case "maximum" -> Math.max(x, y);
                    case "minimum" -> Math.min(x, y);
                    case "pow" -> Math.pow(Math.abs(x) + 0.25, y);
                    default -> throw new AssertionError(op);
                };
            }
            return out;
        }

        static Nd where(Nd cond, Nd a, Nd b) {
            Nd out = new Nd(broadcastShape(broadcastShape(cond.shape, a.shape), b.shape));
            for (int f = 0; f < out.v.length; f++) {
                int[] idx = unflat(out.shape, f);
                out.v[f] = cond.broadcastAt(idx) > 0 ? a.broadcastAt(idx) : b.broadcastAt(idx);
            }
            return out;
        }

        static Nd reduce(String op, Nd a, int[] dims, boolean keepdim) {
            boolean[] reduced = new boolean[a.rank()];
            for (int d : dims) reduced[d] = true;
            int[] kept = a.shape.clone();
            for (int d = 0; d < kept.length; d++) if (reduced[d]) kept[d] = 1;
            int groups = numel(kept);
            List<List<Double>> members = new ArrayList<>();
            for (int g = 0; g < groups; g++) members.add(new ArrayList<>());
            for (int f = 0; f < a.v.length; f++) {
                int[] idx = unflat(a.shape, f);
                for (int d = 0; d < idx.length; d++) if (reduced[d]) idx[d] = 0;
                members.get(flat(kept, idx)).add(a.v[f]);
            }
            int[] outShape = keepdim ? kept : Arrays.stream(dimsKept(a.shape, reduced)).toArray();
            Nd out = new Nd(outShape);
            for (int g = 0; g < groups; g++) {
                List<Double> m = members.get(g);
                double sum = 0, max = Double.NEGATIVE_INFINITY, min = Double.POSITIVE_INFINITY;
                for (double v : m) {
                    sum += v;
                    max = Math.max(max, v);
                    min = Math.min(min, v);
                }
                double mean = sum / m.size();
                out.v[g] = switch (op) {
                    case "sum" -> sum;
                    case "mean" -> mean;
                    case "max" -> max;
                    case "min" -> min;
                    case "var" -> {
                        double ss = 0;
                        for (double v : m) ss += (v - mean) * (v - mean);
                        yield ss / (m.size() - 1);
                    }
                    case "logsumexp" -> {
                        double s = 0;
                        for (double v : m) s += Math.exp(v - max);
                        yield max + Math.log(s);
                    }
                    default -> throw new AssertionError(op);
                };
            }
            return out;
        }

        static int[] dimsKept(int[] shape, boolean[] reduced) {
            return java.util.stream.IntStream.range(0, shape.length).filter(d -> !reduced[d]).map(d -> shape[d]).toArray();
        }

        /** Calls {@code body} with the flat indices of each line along {@code dim}. */
        static void lines(int[] shape, int dim, java.util.function.Consumer<int[]> body) {
            int n = shape[dim];
            for (int f = 0; f < numel(shape); f++) {
                int[] idx = unflat(shape, f);
                if (idx[dim] != 0) continue;
                int[] line = new int[n];
                for (int i = 0; i < n; i++) {
                    idx[dim] = i;
                    line[i] = flat(shape, idx);
                }
                body.accept(line);
            }
        }

        static Nd softmax(Nd a, int dim, boolean log) {
            Nd out = new Nd(a.shape.clone());
            lines(a.shape, dim, line -> {
                double max = Double.NEGATIVE_INFINITY, s = 0;
                for (int i : line) max = Math.max(max, a.v[i]);
                for (int i : line) s += Math.exp(a.v[i] - max);
                for (int i : line) out.v[i] = log ? a.v[i] - max - Math.log(s) : Math.exp(a.v[i] - max) / s;
            });
            return out;
        }

        static Nd cumulative(Nd a, int dim, boolean product) {
            Nd out = new Nd(a.shape.clone());
            lines(a.shape, dim, line -> {
                double acc = product ? 1 : 0;
                for (int i : line) out.v[i] = acc = product ? acc * a.v[i] : acc + a.v[i];
            });
            return out;
        }

        static Nd matmul(Nd a, Nd b) {
            int ra = a.rank(), rb = b.rank(), m = a.shape[ra - 2], k = a.shape[ra - 1], n = b.shape[rb - 1];
            int[] batch = broadcastShape(Arrays.copyOf(a.shape, ra - 2), Arrays.copyOf(b.shape, rb - 2));
            Nd out = new Nd(Program.concat(batch, m, n));
            Nd aBatch = new Nd(Arrays.copyOf(a.shape, ra - 2)), bBatch = new Nd(Arrays.copyOf(b.shape, rb - 2));
            for (int f = 0; f < out.v.length; f++) {
                int[] idx = unflat(out.shape, f);
                int[] bi = Arrays.copyOf(idx, batch.length);
                int ab = aBatch.rank() == 0 ? 0 : flat(aBatch.shape, broadcastIndex(aBatch.shape, bi));
                int bb = bBatch.rank() == 0 ? 0 : flat(bBatch.shape, broadcastIndex(bBatch.shape, bi));
                int i = idx[batch.length], j = idx[batch.length + 1];
                double s = 0;
                for (int p = 0; p < k; p++) s += a.v[(ab * m + i) * k + p] * b.v[(bb * k + p) * n + j];
                out.v[f] = s;
            }
            return out;
        }

        static int[] broadcastIndex(int[] shape, int[] outIdx) {
            int[] idx = new int[shape.length];
            int lead = outIdx.length - shape.length;
            for (int d = 0; d < shape.length; d++) idx[d] = shape[d] == 1 ? 0 : outIdx[lead + d];
            return idx;
        }

        static Nd cat(Nd a, Nd b, int dim) {
            int[] shape = a.shape.clone();
            shape[dim] += b.shape[dim];
            Nd out = new Nd(shape);
            for (int f = 0; f < out.v.length; f++) {
                int[] idx = unflat(shape, f);
                if (idx[dim] < a.shape[dim]) {
                    out.v[f] = a.at(idx);
                } else {
                    idx[dim] -= a.shape[dim];
                    out.v[f] = b.at(idx);
                }
            }
            return out;
        }

        static Nd triangle(Nd a, int k, boolean upper) {
            Nd out = new Nd(a.shape.clone());
            int r = a.rank();
            for (int f = 0; f < a.v.length; f++) {
                int[] idx = unflat(a.shape, f);
                int diff = idx[r - 1] - idx[r - 2];
                out.v[f] = (upper ? diff >= k : diff <= k) ? a.v[f] : 0;
            }
            return out;
        }

        static Nd pad(Nd a, int[] pads, double value) {
            int r = a.rank();
            int[] before = new int[r], shape = a.shape.clone();
            for (int i = 0; i < pads.length / 2; i++) {
                int d = r - 1 - i;
                before[d] = pads[2 * i];
                shape[d] += pads[2 * i] + pads[2 * i + 1];
            }
            Nd out = new Nd(shape);
            for (int f = 0; f < out.v.length; f++) {
                int[] idx = unflat(shape, f);
                boolean inside = true;
                for (int d = 0; d < r; d++) {
                    idx[d] -= before[d];
                    inside &= idx[d] >= 0 && idx[d] < a.shape[d];
                }
                out.v[f] = inside ? a.at(idx) : value;
            }
            return out;
        }

        /** LayerNorm (with bias) or RMSNorm (without) over the last dim. */
        static Nd norm(Nd x, Nd w, Nd b, double eps) {
            Nd out = new Nd(x.shape.clone());
            lines(x.shape, x.rank() - 1, line -> {
                double mean = 0, ms = 0;
                for (int i : line) mean += x.v[i] / line.length;
                for (int i : line) ms += (b == null ? x.v[i] * x.v[i] : (x.v[i] - mean) * (x.v[i] - mean)) / line.length;
                double inv = 1 / Math.sqrt(ms + eps);
                for (int j = 0; j < line.length; j++) {
                    int i = line[j];
                    out.v[i] = b == null ? x.v[i] * inv * w.v[j] : (x.v[i] - mean) * inv * w.v[j] + b.v[j];
                }
            });
            return out;
        }

        static Nd linear(Nd x, Nd w, Nd b) {
            int in = x.shape[x.rank() - 1], outs = w.shape[0], rows = x.v.length / in;
            int[] shape = x.shape.clone();
            shape[shape.length - 1] = outs;
            Nd out = new Nd(shape);
            for (int r = 0; r < rows; r++) {
                for (int o = 0; o < outs; o++) {
                    double s = b == null ? 0 : b.v[o];
                    for (int i = 0; i < in; i++) s += x.v[r * in + i] * w.v[o * in + i];
                    out.v[r * outs + o] = s;
                }
            }
            return out;
        }

        static Nd conv(Nd x, Nd w, Nd b) {
            int bs = x.shape[0], l = x.shape[1], c = x.shape[2], k = w.shape[1];
            Nd out = new Nd(x.shape.clone());
            for (int n = 0; n < bs; n++) {
                for (int t = 0; t < l; t++) {
                    for (int ch = 0; ch < c; ch++) {
                        double s = b == null ? 0 : b.v[ch];
                        for (int j = 0; j < k; j++) {
                            int src = t - k + 1 + j;
                            if (src >= 0) s += w.v[ch * k + j] * x.v[(n * l + src) * c + ch];
                        }
                        out.v[(n * l + t) * c + ch] = s;
                    }
                }
            }
            return out;
        }

        static Nd crossEntropy(Nd logits, long[] targets, Functional.Reduction reduction) {
            int classes = logits.shape[logits.rank() - 1];
            double[] losses = new double[targets.length];
            int counted = 0;
            for (int r = 0; r < targets.length; r++) {
                if (targets[r] == -100) continue;
                double max = Double.NEGATIVE_INFINITY, s = 0;
                for (int c = 0; c < classes; c++) max = Math.max(max, logits.v[r * classes + c]);
                for (int c = 0; c < classes; c++) s += Math.exp(logits.v[r * classes + c] - max);
                losses[r] = max + Math.log(s) - logits.v[r * classes + (int) targets[r]];
                counted++;
            }
            if (reduction == Functional.Reduction.NONE) return new Nd(Arrays.copyOf(logits.shape, logits.rank() - 1), losses);
            double total = 0;
            for (double v : losses) total += v;
            return new Nd(new int[0], new double[] {reduction == Functional.Reduction.SUM ? total : counted == 0 ? 0 : total / counted});
        }

        static Nd embedding(Nd table, long[] indices, int[] indexShape) {
            int d = table.shape[1];
            Nd out = new Nd(Program.concat(indexShape, d, 1));
            out = new Nd(Arrays.copyOf(out.shape, out.shape.length - 1));
            for (int i = 0; i < indices.length; i++) System.arraycopy(table.v, (int) indices[i] * d, out.v, i * d, d);
            return out;
        }

        static Nd indexSelect(Nd a, int dim, long[] indices) {
            int[] shape = a.shape.clone();
            shape[dim] = indices.length;
            Nd out = new Nd(shape);
            for (int f = 0; f < out.v.length; f++) {
                int[] idx = unflat(shape, f);
                idx[dim] = (int) indices[idx[dim]];
                out.v[f] = a.at(idx);
            }
            return out;
        }
    }
}
