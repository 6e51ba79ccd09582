package dev.tessera.models;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Batched sampling of continuations, several prompts at once. Each row is BOS followed by its prompt
 * ({@link ContextWindows}); every step runs the model's parallel forward over the right-padded rows and reads each
 * row's logits at its own last position — padding after a position never changes a causal model's output there.
 * (Recomputing the whole prefix costs O(L²) per continuation; the step-mode caches will replace it.) A row stops
 * after {@code maxBytes} bytes or when it samples {@link ByteLanguageModel#EOS}, which is not part of its output.
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

    /** The continuation of each prompt (without the prompt), sampled with {@code gen}. */
    public static List<byte[]> generate(ByteLanguageModel model, List<byte[]> prompts, Settings settings, Generator gen) {
        int n = prompts.size();
        List<ByteArrayOutputStream> out = new ArrayList<>();
        List<long[]> rows = new ArrayList<>();
        for (byte[] p : prompts) {
            out.add(new ByteArrayOutputStream());
            long[] row = new long[p.length + 1];
            row[0] = ByteLanguageModel.BOS;
            for (int i = 0; i < p.length; i++) row[i + 1] = p[i] & 0xFF;
            rows.add(row);
        }
        boolean[] done = new boolean[n];
        boolean wasTraining = model.module().isTraining();
        model.module().eval();
        try (Grad.Region g = Grad.noGrad()) {
            for (int step = 0; step < settings.maxBytes(); step++) {
                int[] live = java.util.stream.IntStream.range(0, n).filter(i -> !done[i]).toArray();
                if (live.length == 0) break;
                int len = 0;
                for (int i : live) len = Math.max(len, rows.get(i).length);
                long[] batch = new long[live.length * len];
                for (int k = 0; k < live.length; k++) System.arraycopy(rows.get(live[k]), 0, batch, k * len, rows.get(live[k]).length);
                try (Scope s = Scope.open()) {
                    Tensor logits = model.forward(Tensor.of(batch, live.length, len)).logits();
                    float[] u = Tensor.rand(gen, live.length).toFloatArray();
                    for (int k = 0; k < live.length; k++) {
                        long[] row = rows.get(live[k]);
                        float[] l = logits.select(0, k).select(0, row.length - 1).toFloatArray();
                        int next = pick(l, settings, u[k]);
                        if (next == ByteLanguageModel.EOS) {
                            done[live[k]] = true;
                            continue;
                        }
                        out.get(live[k]).write(next);
                        long[] grown = Arrays.copyOf(row, row.length + 1);
                        grown[row.length] = next;
                        rows.set(live[k], grown);
                    }
                }
            }
        } finally {
            model.module().train(wasTraining);
        }
        return out.stream().map(ByteArrayOutputStream::toByteArray).toList();
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
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) order[i] = i;
        final double[] probs = p;
        Arrays.sort(order, (a, b) -> Double.compare(probs[b], probs[a]));
        // nucleus: the most likely bytes until their mass reaches top-p (at least one)
        int keep = 0;
        double mass = 0;
        while (keep < v && (keep == 0 || mass < settings.topP() * sum)) mass += p[order[keep++]];
        double target = u * mass, acc = 0;
        for (int k = 0; k < keep; k++) {
            acc += p[order[k]];
            if (target < acc) return order[k];
        }
        return order[keep - 1];
    }
}
