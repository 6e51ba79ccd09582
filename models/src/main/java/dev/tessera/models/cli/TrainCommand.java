package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ByteSampler;
import dev.tessera.models.ModelCatalog;
import dev.tessera.nn.ByteCorpus;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Generator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera train}: trains a byte-level model (an H-Net preset by default) on a corpus (the JDK's own sources
 * by default), with a progress bar, periodic held-out evaluation, checkpoints, metrics and charts in its output
 * folder; {@code --resume} continues a run from its latest checkpoint on the identical loss curve. It ends by
 * printing the held-out bits per byte, bytes per chunk, a sample and a snippet with its learned boundaries.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train a byte-level model; writes checkpoints, metrics.jsonl and charts into --out.")
final class TrainCommand implements Callable<Integer> {
    static final long DEFAULT_STEPS = 1000;
    static final int DEFAULT_BATCH = 8, DEFAULT_SEQ_LEN = 256;
    static final double DEFAULT_LR = 3e-3;

    @Option(names = "--model", description = "Preset (${COMPLETION-CANDIDATES}) or a JSON config file (default: hnet-tiny).",
            completionCandidates = Presets.class)
    String model;

    @Option(names = "--weights", description = "Start from these weights instead of a random initialisation (fine-tuning): safetensors "
            + "or a PyTorch .pt state dict under the model's parameter names, such as the reference implementation's published checkpoints.")
    Path weights;

    @Option(names = "--data", description = "A text file, a folder of files, or jdk-src (this JDK's lib/src.zip, default).")
    String data;

    @Option(names = "--steps", description = "Optimizer steps (default: " + DEFAULT_STEPS + ", none with --time).")
    Long steps;

    @Option(names = "--time", converter = DurationConverter.class,
            description = "Train for this long (300s, 5m, 1h30m): the schedule follows the clock and the run ends when the time "
                    + "(or --steps, if given) is used up; not reproducible bit for bit, as the clock is not.")
    java.time.Duration time;

    @Option(names = "--batch", description = "Windows per step (default: " + DEFAULT_BATCH + ").")
    Integer batch;

    @Option(names = "--seq-len", description = "Bytes per window (default: " + DEFAULT_SEQ_LEN + ").")
    Integer seqLen;

    @Option(names = "--lr", description = "Peak learning rate of the warmup-stable-decay schedule (default: " + DEFAULT_LR + ").")
    Double lr;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--precision", defaultValue = "auto", description = Precision.DESCRIPTION)
    String precision;

    @Option(names = "--out", description = "Run folder (default: runs/<model>-<timestamp>).")
    Path out;

    @Option(names = "--resume", description = "Continue the run in --out from its latest checkpoint.")
    boolean resume;

    @Option(names = "--eval-every", description = "Held-out evaluation every N steps (default: steps/5, or each fifth of --time).")
    Long evalEvery;

    @Option(names = "--save-every", description = "Checkpoint every N steps (default: steps/3, or each third of --time; always at the end).")
    Long saveEvery;

    @Option(names = "--eval-windows", description = "Held-out windows per evaluation (default: 64).")
    Integer evalWindows;

    @Option(names = "--held-out", description = "Fraction of the corpus (its end) held out (default: 0.1).")
    Double heldOut;

    @Option(names = "--seed", description = "Seed of initialisation and data order (default: 42).")
    Long seed;

    @Option(names = "--stop-after", description = "Stop after this step (a later --resume continues the same run).")
    Long stopAfter;

    @Option(names = "--profile", description = "Print the time per op of a training step (forward, backward, update) at the end, "
            + "averaged over the steps after the first tenth of those trained (the JIT's warm-up), evaluations left out.")
    boolean profile;

    private StepProfile stepProfile;

    @Option(names = "--quiet-summary", hidden = true, description = "Skip the closing sample and boundary snippet.")
    boolean quietSummary;

    /** Completion candidates for --model. */
    static final class Presets implements Iterable<String> {
        @Override public java.util.Iterator<String> iterator() { return ModelCatalog.PRESETS.iterator(); }
    }

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        Precision products = Precision.resolve(precision, target);
        if (profile) stepProfile = new StepProfile();
        if (resume && weights != null) throw new CliFailure("--weights starts a run from given weights; --resume continues one from its checkpoint", 2);
        if (resume) return resumeRun(target, products);
        String modelName = model != null ? model : "hnet-tiny";
        if (out == null) {
            String stem = Path.of(modelName).getFileName().toString().replaceAll("\\.json$", "");
            out = Path.of("runs", stem + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        if (CheckpointFiles.latest(out).isPresent()) {
            throw new CliFailure(out + " already holds checkpoints; pass --resume to continue that run, or another --out");
        }
        double budget = DurationConverter.seconds(time);
        long n = steps != null ? steps : budget > 0 ? Long.MAX_VALUE : DEFAULT_STEPS;
        // with a time budget and no step count, evaluations and checkpoints fall at fifths and thirds of the run (0)
        boolean byTime = budget > 0 && steps == null;
        TrainingRun.Settings s = new TrainingRun.Settings(n, or(batch, DEFAULT_BATCH), or(seqLen, DEFAULT_SEQ_LEN), or(lr, DEFAULT_LR),
                or(seed, 42L), or(evalEvery, byTime ? 0 : Math.max(1, n / 5)), or(saveEvery, byTime ? 0 : Math.max(1, n / 3)), or(evalWindows, 64),
                or(heldOut, 0.1), data != null ? data : CorpusSource.JDK_SRC, budget);
        try (ByteCorpus corpus = CorpusSource.open(s.data());
             ByteLanguageModel m = startingModel(modelName, s.seed(), target)) {
            createDirectories(out);
            Optimizer opt = TrainingRun.optimizer(m, s);
            try {
                System.out.printf(Locale.ROOT, "training %s (%,d parameters%s) on %s%s, %s (%,d bytes) for %s of %d x %d bytes; run folder %s%n",
                        modelName, m.parameterCount(), weights == null ? "" : ", from " + weights, target, target.isCpu() ? "" : " (" + products + " products)", corpus.name(), corpus.size(),
                        s.length(), s.batch(), s.seqLen(), out);
                Map<String, String> extra = new LinkedHashMap<>();
                extra.put(CheckpointFiles.MODEL, modelName);
                extra.put(CheckpointFiles.FAMILY, m.family());
                extra.put(CheckpointFiles.CONFIG, m.configJson());
                if (weights != null) extra.put("train.init_weights", weights.toString());
                TrainingRun.Result r = TrainingRun.run(m, opt, new Generator(s.seed() + 1), 0, or(stopAfter, Long.MAX_VALUE), corpus, s, products,
                        extra, out, "train", TrainingRun.Before.NOTHING, stepProfile);
                report(m, corpus, s, r);
            } finally {
                opt.close();
            }
        }
        return 0;
    }

    /** The model to train: initialised from the seed, or built for loading and filled from {@code --weights}. */
    private ByteLanguageModel startingModel(String modelName, long seed, dev.tessera.runtime.Device target) {
        if (weights == null) return ModelCatalog.create(modelName, new Generator(seed)).onDevice(target);
        return CheckpointFiles.fromConfigAndWeights(modelName, weights, target);
    }

    private int resumeRun(dev.tessera.runtime.Device target, Precision products) {
        if (out == null) throw new CliFailure("--resume needs --out, the run folder to continue", 2);
        Path file = CheckpointFiles.latest(out).orElseThrow(() -> new CliFailure("nothing to resume: no checkpoint-*.safetensors in " + out));
        Map<String, String> meta;
        try {
            meta = dev.tessera.nn.TrainingCheckpoint.metadata(file);
        } catch (dev.tessera.nn.CheckpointException e) {
            throw damaged(file, e);
        }
        TrainingRun.Settings saved = TrainingRun.Settings.fromMetadata(meta, file);
        if (model != null && !model.equals(meta.get(CheckpointFiles.MODEL))) {
            throw new CliFailure("--model " + model + " differs from the run's model " + meta.get(CheckpointFiles.MODEL) + "; omit --model to resume");
        }
        // The settings that shape the curve come from the checkpoint; only the length, evaluation and saving may change.
        TrainingRun.Settings s = new TrainingRun.Settings(or(steps, saved.steps()), saved.batch(), saved.seqLen(), saved.lr(), saved.seed(),
                or(evalEvery, saved.evalEvery()), or(saveEvery, saved.saveEvery()), or(evalWindows, saved.evalWindows()), saved.heldOut(),
                data != null ? data : saved.data(), time != null ? DurationConverter.seconds(time) : saved.seconds());
        TrainingRun.Before before = new TrainingRun.Before(number(meta, TrainingRun.ELAPSED, file), number(meta, TrainingRun.FLOPS, file));
        Generator dataGen = new Generator(s.seed() + 1);
        try (ByteCorpus corpus = CorpusSource.open(s.data())) {
            CheckpointFiles.Loaded loaded;
            try {
                loaded = CheckpointFiles.load(file, target, m -> TrainingRun.optimizer(m, s), Map.of(TrainingRun.DATA_RNG, dataGen));
            } catch (dev.tessera.nn.CheckpointException e) {
                throw damaged(file, e);
            }
            try (ByteLanguageModel m = loaded.model(); Optimizer opt = loaded.optimizer()) {
                long start = loaded.state().step();
                if (start >= s.steps()) {
                    System.out.println("the run in " + out + " already finished its " + s.steps() + " steps; pass a larger --steps to extend it");
                    return 0;
                }
                if (s.timed() && before.seconds() >= s.seconds()) {
                    System.out.printf(Locale.ROOT, "the run in %s already used its %.0f s; pass a longer --time to extend it%n", out, s.seconds());
                    return 0;
                }
                System.out.printf(Locale.ROOT, "resuming %s from step %d (%.0f s trained) of %s (%s)%n", meta.get(CheckpointFiles.MODEL), start, before.seconds(),
                        s.length(), file);
                Map<String, String> extra = new LinkedHashMap<>();
                for (String k : List.of(CheckpointFiles.MODEL, CheckpointFiles.FAMILY, CheckpointFiles.CONFIG)) extra.put(k, meta.get(k));
                TrainingRun.Result r = TrainingRun.run(m, opt, dataGen, start, or(stopAfter, Long.MAX_VALUE), corpus, s, products, extra, out, "train",
                        before, stepProfile);
                report(m, corpus, s, r);
            }
        }
        return 0;
    }

    /** The latest checkpoint cannot be read: say so, and how to resume from the one before it, if there is one. */
    private CliFailure damaged(Path file, dev.tessera.nn.CheckpointException e) {
        List<Path> earlier = CheckpointFiles.earlier(out, file);
        return new CliFailure(e.getMessage() + (earlier.isEmpty() ? "" : "; to resume from the checkpoint before it, "
                + earlier.get(0).getFileName() + ", move " + file.getFileName() + " out of " + out));
    }

    /** The closing summary: held-out figures, a sample, and a snippet with its learned boundaries. */
    private void report(ByteLanguageModel m, ByteCorpus corpus, TrainingRun.Settings s, TrainingRun.Result r) {
        if (r.interrupted()) return; // the process is exiting; the run said where it stopped
        if (stepProfile != null) System.out.print(stepProfile.report());
        System.out.printf(Locale.ROOT, "trained to step %d in %.1f s (%.1f kB/s)%n", r.step(), r.seconds(), r.bytesPerSecond() / 1000);
        if (r.heldOut() != null) {
            System.out.printf(Locale.ROOT, "held-out bits per byte %.4f%n", r.heldOut().bitsPerByte());
            if (r.heldOut().bytesPerChunk().length > 0) System.out.println("bytes per chunk " + BoundaryMarks.format(r.heldOut().bytesPerChunk()));
            String placed = BoundaryMarks.placementLine(r.heldOut().placement());
            if (placed != null) System.out.println(placed);
            dev.tessera.nn.ForwardFlops compute = ComputeFigures.atChunking(m, s.seqLen(), r.heldOut().bytesPerChunk());
            System.out.println(ComputeFigures.line(compute, s.seqLen()));
            if (r.flops() > 0 && r.seconds() > 0) {
                System.out.printf(Locale.ROOT, "model compute %.4g TFLOP in %.1f s of training, %.1f GFLOP/s (%s)%n", r.flops() / 1e12, r.seconds(),
                        r.flops() / r.seconds() / 1e9, TrainingRun.FLOPS_PER_STEP_NOTE);
            }
        }
        System.out.println("checkpoint " + r.checkpoint());
        System.out.println("metrics    " + out.resolve("metrics.jsonl") + (dev.tessera.nn.MetricsLog.chartsAvailable()
                ? " (charts: " + out.resolve("bpb.png") + ", ...)" : " (no charts: this Java runtime lacks java.desktop)"));
        if (quietSummary) return;
        String prompt = s.data().equals(CorpusSource.JDK_SRC) ? "public static " : firstWords(corpus);
        byte[] sample = ByteSampler.generate(m, List.of(prompt.getBytes(StandardCharsets.UTF_8)), new ByteSampler.Settings(160, 0.8, 0.95),
                new Generator(s.seed())).get(0);
        System.out.println("sample:");
        System.out.println(prompt + new String(sample, StandardCharsets.UTF_8));
        if (m.stages() > 0) {
            long[] range = corpus.range(ByteCorpus.Split.HELD_OUT, s.heldOut());
            byte[] snippet = corpus.slice(range[0], (int) Math.min(160, range[1] - range[0]));
            System.out.println("chunk boundaries ('|' before each chunk's first byte) on held-out text:");
            BoundaryMarks marks = BoundaryMarks.of(m, snippet);
            for (int st = 0; st < marks.stages(); st++) System.out.println("stage " + st + ": " + marks.render(st));
        }
    }

    private static String firstWords(ByteCorpus corpus) {
        byte[] head = corpus.slice(0, (int) Math.min(12, corpus.size()));
        return new String(head, StandardCharsets.UTF_8).replace('\uFFFD', ' ');
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CliFailure("cannot create " + dir + ": " + e.getMessage());
        }
    }

    private static <T> T or(T v, T fallback) { return v != null ? v : fallback; }

    /** A figure a saved run recorded, the seconds or FLOPs it had trained (0 for a checkpoint written before it was recorded). */
    private static double number(Map<String, String> meta, String key, Path file) {
        try {
            return Double.parseDouble(meta.getOrDefault(key, "0"));
        } catch (NumberFormatException e) {
            throw new CliFailure(file + ": bad '" + key + "' in its metadata: " + e.getMessage());
        }
    }
}
