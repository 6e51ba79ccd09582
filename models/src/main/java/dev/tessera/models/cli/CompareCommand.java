package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ModelCatalog;
import dev.tessera.nn.ByteCorpus;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Generator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera compare}: trains H-Net and the isotropic baselines on the same data, the same windows in the same
 * order, the same steps (or, with {@code --time}, the same wall-clock time each), batch and sequence length (the
 * presets are sized to roughly equal compute per byte), each into a subfolder of {@code --out}, and prints one
 * table: steps, held-out bits per byte, bytes per chunk, training bytes/s, parameters.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train H-Net and the byte-level baselines at matched settings and print one table.")
final class CompareCommand implements Callable<Integer> {
    @Option(names = "--models", split = ",", description = "Models to compare (default: hnet-tiny,transformer-tiny,mamba-tiny).")
    List<String> models = new ArrayList<>(List.of("hnet-tiny", "transformer-tiny", "mamba-tiny"));

    @Option(names = "--data", defaultValue = CorpusSource.JDK_SRC, description = "A text file, a folder, or jdk-src (default).")
    String data;

    @Option(names = "--steps", description = "Steps per model (default: 200, none with --time).")
    Long steps;

    @Option(names = "--time", converter = DurationConverter.class,
            description = "Train each model for this long (300s, 5m): equal time instead of equal steps.")
    java.time.Duration time;

    @Option(names = "--batch", defaultValue = "8", description = "Windows per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq-len", defaultValue = "256", description = "Bytes per window (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--eval-windows", defaultValue = "64", description = "Held-out windows (default: ${DEFAULT-VALUE}).")
    int evalWindows;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "auto", description = Precision.DESCRIPTION)
    String precision;

    @Option(names = "--out", description = "Folder for the runs (default: runs/compare-<timestamp>).")
    Path out;

    /** Stage 0's share of boundaries at spaces or word starts, or "-" for a model without stages or boundaries. */
    private static String atWordStarts(dev.tessera.models.HeldOutEvaluation.Result heldOut) {
        double share = heldOut.bytesPerChunk().length == 0 ? Double.NaN : heldOut.placement().shareAtWordStarts(0);
        return Double.isFinite(share) ? String.format(Locale.ROOT, "%.1f %%", 100 * share) : "-";
    }

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        Precision products = Precision.resolve(precision, target);
        if (out == null) out = Path.of("runs", "compare-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        double budget = DurationConverter.seconds(time);
        long n = steps != null ? steps : budget > 0 ? Long.MAX_VALUE : 200;
        // every n steps: one evaluation and one checkpoint, at the end (also when time ends the run first)
        TrainingRun.Settings s = new TrainingRun.Settings(n, batch, seqLen, lr, seed, n, n, evalWindows, 0.1, data, budget);
        record Row(String model, long steps, long params, double bpb, double bps, String chunks, String atWordStarts) {}
        List<Row> rows = new ArrayList<>();
        try (ByteCorpus corpus = CorpusSource.open(data)) {
            for (String name : models) {
                Path dir = out.resolve(Path.of(name).getFileName().toString().replaceAll("\\.json$", ""));
                if (CheckpointFiles.latest(dir).isPresent()) throw new CliFailure(dir + " already holds checkpoints; pass another --out");
                try {
                    Files.createDirectories(dir);
                } catch (IOException e) {
                    throw new CliFailure("cannot create " + dir + ": " + e.getMessage());
                }
                try (ByteLanguageModel m = ModelCatalog.create(name, new Generator(seed)).onDevice(target); Optimizer opt = TrainingRun.optimizer(m, s)) {
                    Map<String, String> extra = new LinkedHashMap<>();
                    extra.put(CheckpointFiles.MODEL, name);
                    extra.put(CheckpointFiles.FAMILY, m.family());
                    extra.put(CheckpointFiles.CONFIG, m.configJson());
                    TrainingRun.Result r = TrainingRun.run(m, opt, new Generator(seed + 1), 0, Long.MAX_VALUE, corpus, s, products, extra, dir, name, 0);
                    rows.add(new Row(name, r.step(), r.parameters(), r.heldOut().bitsPerByte(), r.bytesPerSecond(),
                            r.heldOut().bytesPerChunk().length == 0 ? "-" : BoundaryMarks.format(r.heldOut().bytesPerChunk()),
                            atWordStarts(r.heldOut())));
                }
            }
        }
        System.out.printf(Locale.ROOT, "%s each, steps of %d windows x %d bytes on %s%n", s.length(), batch, seqLen, data);
        System.out.printf(Locale.ROOT, "%-20s %12s %8s %14s %12s  %-16s %s%n", "model", "parameters", "steps", "held-out bpb", "bytes/s",
                "bytes per chunk", "stage-0 boundaries at spaces or word starts");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-20s %,12d %,8d %14.4f %,12.0f  %-16s %s%n", r.model(), r.params(), r.steps(), r.bpb(), r.bps(), r.chunks(),
                    r.atWordStarts());
        }
        return 0;
    }
}
