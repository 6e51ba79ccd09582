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
 * baseline presets carry hnet-tiny's compute per byte at its target ratio within a few percent), each into a subfolder of {@code --out}, and prints one
 * table: steps, held-out bits per byte, bytes per chunk, training bytes/s, parameters, and the forward's compute per
 * byte ({@link ByteLanguageModel#forwardFlops}, H-Net's at the chunking it learned: what matched compute means). With several seeds every model
 * trains once per seed (all models for the first seed, then for the next, so that a machine that slows down over the
 * runs does not favour one model) and the table ends with each model's means and the spread of its bits per byte.
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

    @Option(names = "--seed", split = ",", description = "Seed, or several (42,7,1): every model once per seed, then the means (default: 42).")
    List<Long> seeds = new ArrayList<>(List.of(42L));

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "auto", description = Precision.DESCRIPTION)
    String precision;

    @Option(names = "--out", description = "Folder for the runs (default: runs/compare-<timestamp>).")
    Path out;

    /** Stage 0's share of boundaries at spaces or word starts, NaN for a model without stages or boundaries. */
    private static double atWordStarts(dev.tessera.models.HeldOutEvaluation.Result heldOut) {
        return heldOut.bytesPerChunk().length == 0 ? Double.NaN : heldOut.placement().shareAtWordStarts(0);
    }

    private static String percent(double share) { return Double.isFinite(share) ? String.format(Locale.ROOT, "%.1f %%", 100 * share) : "-"; }

    /** One trained run of the table. */
    private record Row(String model, long seed, long steps, long params, double bpb, double bps, double mflopsPerByte, double[] bytesPerChunk,
                       double atWordStarts) {
        String chunks() { return bytesPerChunk.length == 0 ? "-" : BoundaryMarks.format(bytesPerChunk); }
    }

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        Precision products = Precision.resolve(precision, target);
        if (seeds.isEmpty() || seeds.stream().distinct().count() != seeds.size()) throw new CliFailure("--seed: give distinct seeds, got " + seeds);
        if (out == null) out = Path.of("runs", "compare-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        double budget = DurationConverter.seconds(time);
        long n = steps != null ? steps : budget > 0 ? Long.MAX_VALUE : 200;
        boolean several = seeds.size() > 1;
        List<Row> rows = new ArrayList<>();
        String length = null;
        try (ByteCorpus corpus = CorpusSource.open(data)) {
            for (long seed : seeds) {
                // every n steps: one evaluation and one checkpoint, at the end (also when time ends the run first)
                TrainingRun.Settings s = new TrainingRun.Settings(n, batch, seqLen, lr, seed, n, n, evalWindows, 0.1, data, budget);
                length = s.length();
                for (String name : models) {
                    String folder = Path.of(name).getFileName().toString().replaceAll("\\.json$", "") + (several ? "-seed" + seed : "");
                    Path dir = out.resolve(folder);
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
                        TrainingRun.Result r = TrainingRun.run(m, opt, new Generator(seed + 1), 0, Long.MAX_VALUE, corpus, s, products, extra, dir, name, TrainingRun.Before.NOTHING, null);
                        if (r.interrupted()) return 1; // the process is exiting; the run said where it stopped
                        dev.tessera.nn.ForwardFlops compute = ComputeFigures.atChunking(m, seqLen, r.heldOut().bytesPerChunk()); // at its held-out chunking
                        double mflops = compute == null ? Double.NaN : compute.total() / seqLen / 1e6;
                        rows.add(new Row(name, seed, r.step(), r.parameters(), r.heldOut().bitsPerByte(), r.bytesPerSecond(), mflops,
                                r.heldOut().bytesPerChunk(), atWordStarts(r.heldOut())));
                    }
                }
            }
        }
        System.out.printf(Locale.ROOT, "%s each, steps of %d windows x %d bytes on %s%n", length, batch, seqLen, data);
        String seedHead = several ? String.format(Locale.ROOT, " %6s", "seed") : "";
        System.out.printf(Locale.ROOT, "%-20s%s %12s %8s %14s %12s %11s  %-16s %s%n", "model", seedHead, "parameters", "steps", "held-out bpb", "bytes/s",
                "MFLOP/byte", "bytes per chunk", "stage-0 boundaries at spaces or word starts");
        for (Row r : rows) {
            String seedCell = several ? String.format(Locale.ROOT, " %6d", r.seed()) : "";
            System.out.printf(Locale.ROOT, "%-20s%s %,12d %,8d %14.4f %,12.0f %11.3f  %-16s %s%n", r.model(), seedCell, r.params(), r.steps(), r.bpb(), r.bps(),
                    r.mflopsPerByte(), r.chunks(), percent(r.atWordStarts()));
        }
        System.out.println("(MFLOP/byte: the forward's compute per byte of a window, H-Net's chunks as many as on the held-out text)");
        if (several) printMeans(rows);
        return 0;
    }

    /** Per model, over its seeds: mean steps, bits per byte and their sample standard deviation, bytes/s, chunks, share. */
    private void printMeans(List<Row> rows) {
        System.out.printf(Locale.ROOT, "%nmeans over seeds %s:%n", seeds.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(", ")));
        System.out.printf(Locale.ROOT, "%-20s %8s %14s %8s %12s %11s  %-16s %s%n", "model", "steps", "held-out bpb", "sd", "bytes/s", "MFLOP/byte",
                "bytes per chunk", "stage-0 boundaries at spaces or word starts");
        for (String name : models) {
            List<Row> of = rows.stream().filter(r -> r.model().equals(name)).toList();
            double steps = of.stream().mapToLong(Row::steps).average().orElseThrow();
            double bpb = of.stream().mapToDouble(Row::bpb).average().orElseThrow();
            double sd = Math.sqrt(of.stream().mapToDouble(r -> (r.bpb() - bpb) * (r.bpb() - bpb)).sum() / (of.size() - 1));
            double bps = of.stream().mapToDouble(Row::bps).average().orElseThrow();
            double mflops = of.stream().mapToDouble(Row::mflopsPerByte).average().orElseThrow();
            double[] chunks = new double[of.get(0).bytesPerChunk().length];
            for (Row r : of) for (int st = 0; st < chunks.length; st++) chunks[st] += r.bytesPerChunk()[st] / of.size();
            double share = of.stream().mapToDouble(Row::atWordStarts).average().orElseThrow();
            System.out.printf(Locale.ROOT, "%-20s %,8.0f %14.4f %8.4f %,12.0f %11.3f  %-16s %s%n", name, steps, bpb, sd, bps, mflops,
                    chunks.length == 0 ? "-" : BoundaryMarks.format(chunks), percent(share));
        }
    }
}
