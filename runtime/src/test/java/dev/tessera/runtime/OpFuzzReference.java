package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleUnaryOperator;

/**
 * {@link OpFuzzTest}'s float64 reference: row-major arrays, and each op computed from its definition one element at
 * a time, sharing no code with the runtime.
 */
final class OpFuzzReference {
    private OpFuzzReference() {}

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


    static Nd of(OpFuzzTest.Program p, Nd[] x) {
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
    static Nd inPlace(OpFuzzTest.Program p, double[] base, Nd[] x) {
        OpFuzzTest.Layout dst = p.layouts[0];
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
        Nd out = new Nd(OpFuzzTest.Program.concat(batch, m, n));
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
        Nd out = new Nd(OpFuzzTest.Program.concat(indexShape, d, 1));
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
