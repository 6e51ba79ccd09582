package dev.tessera.models;

import dev.tessera.nn.ByteCorpus;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import java.util.ArrayList;
import java.util.List;

/**
 * Bits per byte and bytes per chunk on deterministic, non-overlapping held-out windows
 * ({@link ByteCorpus#evaluationWindows}), framed as in training ({@link ContextWindows}); no gradients.
 */
public final class HeldOutEvaluation {
    /**
     * Mean bits per byte over {@code bytes} predicted bytes, the mean bytes per chunk of each stage, and where the
     * boundaries fell ({@link BoundaryPlacement}).
     */
    public record Result(double bitsPerByte, double[] bytesPerChunk, long bytes, BoundaryPlacement placement) {}

    private HeldOutEvaluation() {}

    /** Evaluates up to {@code maxWindows} windows of {@code length} bytes, {@code batch} at a time. */
    public static Result run(ByteLanguageModel model, ByteCorpus corpus, double heldOutFraction, int length, int maxWindows, int batch) {
        List<long[]> windows = corpus.evaluationWindows(ByteCorpus.Split.HELD_OUT, heldOutFraction, length, maxWindows);
        if (windows.isEmpty()) {
            long[] r = corpus.range(ByteCorpus.Split.HELD_OUT, heldOutFraction);
            throw new IllegalArgumentException("the held-out part of " + corpus.name() + " has " + (r[1] - r[0])
                    + " bytes, fewer than one window of " + (length + 1) + "; use a shorter --seq-len or more data");
        }
        double nats = 0;
        long bytes = 0;
        double[] chunks = new double[model.stages()];
        BoundaryPlacement placement = new BoundaryPlacement(model.stages());
        boolean wasTraining = model.module().isTraining();
        model.module().eval();
        try (Grad.Region g = Grad.noGrad()) {
            for (int at = 0; at < windows.size(); at += batch) {
                List<byte[]> rows = new ArrayList<>();
                for (int i = at; i < Math.min(windows.size(), at + batch); i++) rows.add(corpus.slice(windows.get(i)[0], length));
                try (Scope s = Scope.open()) {
                    ByteCorpus.Batch b = ContextWindows.of(rows);
                    ByteLanguageModel.Prediction p = model.forward(b.inputs());
                    nats += Functional.crossEntropy(p.logits(), b.targets(), -100, Functional.Reduction.SUM).item();
                    bytes += b.targets().numel();
                    for (int st = 0; st < chunks.length; st++) chunks[st] += p.boundaries().get(st).to(DType.F32).sum().item();
                    if (!p.boundaries().isEmpty()) placement.add(b.inputs(), p.boundaries());
                }
            }
        } finally {
            model.module().train(wasTraining);
        }
        double[] bpc = new double[chunks.length];
        for (int st = 0; st < bpc.length; st++) bpc[st] = bytes / Math.max(1, chunks[st]);
        return new Result(nats / bytes / Math.log(2), bpc, bytes, placement);
    }
}
