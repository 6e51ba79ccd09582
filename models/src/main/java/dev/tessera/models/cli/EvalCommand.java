package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.HeldOutEvaluation;
import dev.tessera.nn.ByteCorpus;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera eval}: held-out bits per byte and bytes per chunk of each stage, on the deterministic
 * non-overlapping windows of the corpus's held-out end (the same windows for every model and run).
 */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Held-out bits per byte and bytes per chunk of a checkpoint (or config and weights) on a corpus.")
final class EvalCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1")
    ModelSource source;

    @picocli.CommandLine.Mixin
    WeightsStorage storage;

    @Option(names = "--data", description = "A text file, a folder, or jdk-src (default: the data the checkpoint was trained on; jdk-src for --weights).")
    String data;

    @Option(names = "--seq-len", description = "Bytes per window (default: the training sequence length; 256 for --weights).")
    Integer seqLen;

    @Option(names = "--windows", defaultValue = "256", description = "At most this many windows (default: ${DEFAULT-VALUE}).")
    int windows;

    @Option(names = "--batch", defaultValue = "8", description = "Windows per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--held-out", description = "Held-out fraction at the corpus's end (default: the training run's, else 0.1).")
    Double heldOut;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "auto", description = Precision.DESCRIPTION)
    String precision;

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        Precision products = Precision.resolve(precision, target);
        if (windows <= 0 || batch <= 0) throw new CliFailure("--windows and --batch must be positive", 2);
        ModelSource.Opened opened = source.open(target, storage.dtype);
        Map<String, String> meta = opened.metadata();
        String d = data != null ? data : meta.getOrDefault("train.data", CorpusSource.JDK_SRC);
        try (ByteLanguageModel m = opened.model(); ByteCorpus corpus = CorpusSource.open(d); Precision.Region pr = products.enter()) {
            // read inside the block: a checkpoint whose metadata does not parse still has its model closed
            int len = seqLen != null ? seqLen : Integer.parseInt(meta.getOrDefault("train.seq_len", "256"));
            double frac = heldOut != null ? heldOut : Double.parseDouble(meta.getOrDefault("train.held_out", "0.1"));
            HeldOutEvaluation.Result r = HeldOutEvaluation.run(m, corpus, frac, len, windows, batch);
            String stored = storage.dtype == dev.tessera.runtime.DType.F32 ? "" : ", linear weights in " + storage.dtype;
            if (opened.fromCheckpoint()) System.out.printf(Locale.ROOT, "checkpoint %s (step %d)%s%n", opened.origin(), opened.step(), stored);
            else System.out.println("weights " + opened.origin() + stored);
            System.out.printf(Locale.ROOT, "data %s, held-out %,d bytes in windows of %d%n", corpus.name(), r.bytes(), len);
            System.out.printf(Locale.ROOT, "bits per byte %.4f%n", r.bitsPerByte());
            if (r.bytesPerChunk().length > 0) System.out.println("bytes per chunk " + BoundaryMarks.format(r.bytesPerChunk()));
            System.out.println(ComputeFigures.line(ComputeFigures.atChunking(m, len, r.bytesPerChunk()), len));
            String placed = BoundaryMarks.placementLine(r.placement());
            if (placed != null) System.out.println(placed);
            BoundaryMarks.placeLines(r.placement()).forEach(System.out::println);
        }
        return 0;
    }
}
