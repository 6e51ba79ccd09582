package dev.tessera.runtime;

import static dev.tessera.runtime.OpFuzzReference.flat;
import static dev.tessera.runtime.OpFuzzReference.numel;
import static dev.tessera.runtime.OpFuzzReference.unflat;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.OpFuzzReference.Nd;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Random programs of one op each, over operands laid out at random — selected from a wider base, permuted,
 * narrowed, strided, broadcast by {@code expand}, some of them views of an op's result instead of a leaf — in F32 and
 * F64, against a float64 reference written from the ops' definitions ({@link OpFuzzReference}); in-place ops write
 * through such views and the whole base is compared. The reference reads each operand's values from its base through
 * the layout's own index arithmetic, not through the runtime's views, so a wrong stride or offset anywhere (in a view,
 * in an op's strided loop, in a vector path's tail, in a backward's broadcast reduction) shows as a wrong value.
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
            for (int f = 0; f < out.v().length; f++) out.v()[f] = base[baseIndex(unflat(shape, f))];
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
                if (preOps[i] != null) base = new Nd(layouts[i].baseShape, base).map(OpFuzzReference.unary(preOps[i])).v();
                x[i] = layouts[i].values(base);
            }
            if (kind == Kind.IN_PLACE) return OpFuzzReference.inPlace(this, values[0], x);
            return OpFuzzReference.of(this, x);
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
            double[] w = new double[expected.v().length];
            SplittableRandom r = new SplittableRandom(Arrays.hashCode(expected.shape()) + 31L * w.length);
            for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextDouble() * 2 - 1);
            Tensor w64 = Tensor.of(w, expected.shape()).to(device), w32 = w64.to(DType.F32);
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
                    double plus = dot(reference(bases).v(), w);
                    bases[i][j] = keep - h;
                    double minus = dot(reference(bases).v(), w);
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
            if (!Arrays.equals(out.shape(), expected.shape())) {
                return what + " has shape " + Arrays.toString(out.shape()) + ", expected " + Arrays.toString(expected.shape());
            }
            return compareArrays(what, out.toDoubleArray(), expected.v(), rtol);
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

}
