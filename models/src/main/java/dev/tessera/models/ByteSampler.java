package dev.tessera.models;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.TesseraException;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Batched sampling of continuations, several prompts at once. Each row is BOS followed by its prompt, read in one
 * parallel pass per row; then all rows go through the model's {@link ByteLanguageModel.Decoder} together, one
 * sampled byte per step, so a step costs the same however long the context. A row stops after {@code maxBytes}
 * bytes or when it samples {@link ByteLanguageModel#EOS}, which is not part of its output.
 */
public final class ByteSampler {
    /** Sampling settings: temperature ≤ 0 is greedy; top-p keeps the smallest set of bytes whose probability reaches p. */
    public record Settings(int maxBytes, double temperature, double topP) {
        public Settings {
            if (maxBytes < 0) throw new IllegalArgumentException("--max-bytes must be >= 0, got " + maxBytes);
            if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("--top-p must be in (0, 1], got " + topP);
            if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new IllegalArgumentException("--temperature must be >= 0, got " + temperature);
        }
    }

    private ByteSampler() {}

    /**
     * The continuation of each prompt (without the prompt), sampled with {@code gen}. All rows decode together
     * through the model's {@link ByteLanguageModel.Decoder}: each row reads BOS and its prompt in one parallel pass
     * ({@link ByteLanguageModel.Decoder#prefill}), then feeds back what it samples, one byte per step, until EOS or
     * {@code maxBytes}. Each step draws one uniform number per row from {@code gen}.
     */
    public static List<byte[]> generate(ByteLanguageModel model, List<byte[]> prompts, Settings settings, Generator gen) {
        return generate(model, prompts, settings, gen, (row, b) -> {});
    }

    /** Receives each sampled byte as soon as it is drawn (EOS is not passed on). */
    @FunctionalInterface
    public interface ByteSink {
        void accept(int row, int b);
    }

    /** Told when each decoding step (one byte for every row, the model's work only) begins and ends. */
    public interface StepWatch {
        /** Before decoding step {@code step} (from 1) of at most {@code maxSteps}. */
        void beforeStep(long step, long maxSteps);

        void afterStep();

        StepWatch NONE = new StepWatch() {
            @Override public void beforeStep(long step, long maxSteps) {}

            @Override public void afterStep() {}
        };
    }

    /**
     * {@link #generate(ByteLanguageModel, List, Settings, Generator)}, handing each byte to {@code sink} the moment it
     * is sampled (to print a continuation as it grows); the same bytes, draws and result.
     */
    public static List<byte[]> generate(ByteLanguageModel model, List<byte[]> prompts, Settings settings, Generator gen, ByteSink sink) {
        return generate(model, prompts, settings, gen, sink, StepWatch.NONE);
    }

    /** {@link #generate(ByteLanguageModel, List, Settings, Generator, ByteSink)}, with {@code watch} around each decoding step. */
    public static List<byte[]> generate(ByteLanguageModel model, List<byte[]> prompts, Settings settings, Generator gen, ByteSink sink,
                                        StepWatch watch) {
        int n = prompts.size();
        List<ByteArrayOutputStream> out = new ArrayList<>();
        int longest = 0;
        for (byte[] p : prompts) {
            out.add(new ByteArrayOutputStream());
            longest = Math.max(longest, p.length + 1);
        }
        if (n == 0 || settings.maxBytes() == 0) return out.stream().map(ByteArrayOutputStream::toByteArray).toList();
        long[][] context = new long[n][];
        for (int i = 0; i < n; i++) {
            byte[] p = prompts.get(i);
            context[i] = new long[p.length + 1];
            context[i][0] = ByteLanguageModel.BOS;
            for (int j = 0; j < p.length; j++) context[i][j + 1] = p[j] & 0xFF;
        }
        long steps = 0;
        boolean[] done = new boolean[n];
        int[] produced = new int[n];
        long[] next = new long[n];
        boolean wasTraining = model.module().isTraining();
        model.module().eval();
        try (Grad.Region g = Grad.noGrad(); ByteLanguageModel.Decoder dec = model.newDecoder(n, longest + settings.maxBytes())) {
            float[] logits;
            boolean dryRun; // a dry-run device's logits mean nothing, NaN included
            try (Scope s = Scope.open()) {
                Tensor first = dec.prefill(context);
                dryRun = first.device().isDryRun();
                logits = first.toFloatArray();
            }
            while (true) {
                float[] u;
                try (Scope s = Scope.open()) {
                    u = Tensor.rand(gen, n).toFloatArray();
                }
                boolean any = false;
                for (int i = 0; i < n; i++) {
                    if (done[i]) continue;
                    float[] row = Arrays.copyOfRange(logits, i * 256, (i + 1) * 256);
                    if (!dryRun && !samplable(row)) {
                        throw new TesseraException("the next-byte logits of row " + i + " after " + produced[i] + " generated bytes are not"
                                + " finite (NaN, +infinity, or all −infinity): the model's weights or activations overflowed or hold NaN"
                                + " (a damaged checkpoint, or a run that diverged)");
                    }
                    int b = pick(row, settings, u[i]);
                    if (b == ByteLanguageModel.EOS) {
                        done[i] = true;
                        continue;
                    }
                    out.get(i).write(b);
                    sink.accept(i, b);
                    next[i] = b; // a row that is done keeps feeding its last byte; its logits are no longer read
                    if (++produced[i] >= settings.maxBytes()) done[i] = true;
                    any |= !done[i];
                }
                if (!any) break;
                watch.beforeStep(++steps, settings.maxBytes() - 1L);
                try (Scope s = Scope.open()) {
                    logits = dec.step(Tensor.of(next, n)).toFloatArray();
                }
                watch.afterStep();
            }
        } finally {
            model.module().train(wasTraining);
        }
        return out.stream().map(ByteArrayOutputStream::toByteArray).toList();
    }

    /**
     * The most probable indices of {@code p}, in the order of {@link #byDescendingProbability}, at least until their
     * mass reaches {@code need}: when the bytes above a thousandth of the largest probability hold that mass (with a
     * margin far above the sums' rounding), only they are sorted — they are a prefix of the full order, so the nucleus
     * is the same — else all of them.
     */
    static int[] nucleusOrder(double[] p, double need) {
        double top = 0;
        for (double x : p) top = Math.max(top, x);
        double floor = top * 1e-3, mass = 0;
        int n = 0;
        for (double x : p) {
            if (x >= floor) {
                n++;
                mass += x;
            }
        }
        // (written so that NaN probabilities, as from a model that diverged, take the full sort too)
        if (!(n > 0 && n < p.length && mass >= need * (1 + 1e-9))) return byDescendingProbability(p);
        double[] sub = new double[n];
        int[] index = new int[n];
        for (int i = 0, j = 0; i < p.length; i++) {
            if (p[i] >= floor) {
                sub[j] = p[i];
                index[j++] = i;
            }
        }
        int[] order = byDescendingProbability(sub);
        for (int k = 0; k < n; k++) order[k] = index[order[k]];
        return order;
    }

    /**
     * The indices of {@code p} from the most to the least probable, equal probabilities in index order: a stable
     * bottom-up merge sort on primitives (sorting boxed indices with a comparator took an eighth of a decoding step).
     */
    static int[] byDescendingProbability(double[] p) {
        int n = p.length;
        int[] a = new int[n], b = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n; lo += 2 * width) {
                int mid = Math.min(lo + width, n), hi = Math.min(lo + 2 * width, n), i = lo, j = mid, k = lo;
                while (i < mid && j < hi) b[k++] = Double.compare(p[a[j]], p[a[i]]) > 0 ? a[j++] : a[i++];
                while (i < mid) b[k++] = a[i++];
                while (j < hi) b[k++] = a[j++];
            }
            int[] t = a;
            a = b;
            b = t;
        }
        return a;
    }

    /** Logits a byte can be drawn from: no NaN, no +∞ (whose softmax is NaN), and at least one finite value. */
    static boolean samplable(float[] logits) {
        boolean anyFinite = false;
        for (float x : logits) {
            if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) return false;
            anyFinite |= x != Float.NEGATIVE_INFINITY;
        }
        return anyFinite;
    }

    /** Draws a byte from {@code logits} with the uniform number {@code u} in [0, 1). */
    static int pick(float[] logits, Settings settings, float u) {
        int v = logits.length;
        if (settings.temperature() == 0) {
            int best = 0;
            for (int i = 1; i < v; i++) if (logits[i] > logits[best]) best = i;
            return best;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (float x : logits) max = Math.max(max, x);
        double[] p = new double[v];
        double sum = 0;
        for (int i = 0; i < v; i++) sum += p[i] = Math.exp((logits[i] - max) / settings.temperature());
        int[] order = nucleusOrder(p, settings.topP() * sum);
        // nucleus: the most likely bytes until their mass reaches top-p (at least one)
        int keep = 0;
        double mass = 0;
        while (keep < order.length && (keep == 0 || mass < settings.topP() * sum)) mass += p[order[keep++]];
        double target = u * mass, acc = 0;
        for (int k = 0; k < keep; k++) {
            acc += p[order[k]];
            if (target < acc) return order[k];
        }
        return order[keep - 1];
    }
}
