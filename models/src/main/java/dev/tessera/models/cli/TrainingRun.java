package dev.tessera.models.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ContextWindows;
import dev.tessera.models.HeldOutEvaluation;
import dev.tessera.nn.ByteCorpus;
import dev.tessera.nn.ForwardFlops;
import dev.tessera.nn.GradClip;
import dev.tessera.nn.LrSchedule;
import dev.tessera.nn.MetricsLog;
import dev.tessera.nn.Optimizer;
import dev.tessera.nn.Parameter;
import dev.tessera.nn.TrainingCheckpoint;
import dev.tessera.nn.TrainingProgress;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The training loop shared by {@code train} and {@code compare}: AdamW on the model's parameter groups (F32 master
 * weights whatever the {@link Precision} of the products), a
 * warmup-stable-decay schedule (10 % warm-up, 20 % decay), global gradient clipping at 1.0, periodic held-out
 * evaluation, checkpoints, a metrics JSONL and its charts. Everything that decides the loss curve — the settings,
 * the weights, the optimizer state and the data generator's offset — is in each checkpoint, so a resumed run
 * repeats the curve of an uninterrupted one bit for bit.
 */
final class TrainingRun {
    static final String DATA_RNG = "data";
    /** Checkpoint metadata: wall-clock seconds the run had trained when it was saved (what a time budget counts). */
    static final String ELAPSED = "train.elapsed_s";
    /** Checkpoint metadata: the model compute the run had trained with when it was saved ({@link #FLOPS_PER_STEP_NOTE}). */
    static final String FLOPS = "train.flops";
    /** How a step's model compute is counted: 3 × the forward's, at that step's own chunking. */
    static final String FLOPS_PER_STEP_NOTE = "3 x the forward's FLOPs at the step's chunking: a backward costs about twice its forward";
    static final double WEIGHT_DECAY = 0.1, CLIP = 1.0;

    /** What a run had done before this process resumed it: seconds trained (a time budget counts them) and model FLOPs. */
    record Before(double seconds, double flops) {
        static final Before NOTHING = new Before(0, 0);
    }

    /**
     * What defines a run's curve (saved in every checkpoint as {@code train.*} metadata). {@code seconds} is a time
     * budget (0: none): with one, the schedule follows the share of the budget spent (or of {@code steps}, whichever
     * is further along) and the run ends when either is used up; {@code evalEvery} and {@code saveEvery} may then be 0,
     * meaning at each fifth and each third of the run.
     */
    record Settings(long steps, int batch, int seqLen, double lr, long seed, long evalEvery, long saveEvery,
                    int evalWindows, double heldOut, String data, double seconds) {
        Settings {
            if (steps <= 0) throw new CliFailure("--steps must be positive, got " + steps, 2);
            if (batch <= 0 || seqLen < 2) throw new CliFailure("--batch must be positive and --seq-len at least 2, got " + batch + ", " + seqLen, 2);
            if (!(lr > 0)) throw new CliFailure("--lr must be positive, got " + lr, 2);
            if (!(seconds >= 0) || Double.isInfinite(seconds)) throw new CliFailure("--time must be a positive duration, got " + seconds + " s", 2);
            long least = seconds > 0 ? 0 : 1;
            if (evalEvery < least || saveEvery < least) throw new CliFailure("--eval-every and --save-every must be positive", 2);
            if (!(heldOut > 0 && heldOut < 1)) throw new CliFailure("--held-out must be in (0, 1), got " + heldOut, 2);
        }

        boolean timed() { return seconds > 0; }

        /** How far along the run is after {@code step} steps and {@code elapsed} seconds, in [0, 1] (or past 1 at its end). */
        double progress(long step, double elapsed) {
            double byStep = (double) step / steps;
            return timed() ? Math.max(byStep, elapsed / seconds) : byStep;
        }

        /** "300 s", "300 s or 2000 steps, whichever comes first", or "2000 steps". */
        String length() {
            if (!timed()) return steps + " steps";
            String t = String.format(Locale.ROOT, "%.0f s", seconds);
            return steps == Long.MAX_VALUE ? t : t + " or " + steps + " steps, whichever comes first";
        }

        Map<String, String> toMetadata() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("train.steps", Long.toString(steps));
            m.put("train.batch", Integer.toString(batch));
            m.put("train.seq_len", Integer.toString(seqLen));
            m.put("train.lr", Double.toString(lr));
            m.put("train.seed", Long.toString(seed));
            m.put("train.eval_every", Long.toString(evalEvery));
            m.put("train.save_every", Long.toString(saveEvery));
            m.put("train.eval_windows", Integer.toString(evalWindows));
            m.put("train.held_out", Double.toString(heldOut));
            m.put("train.data", data);
            m.put("train.time_s", Double.toString(seconds));
            return m;
        }

        static Settings fromMetadata(Map<String, String> m, Path file) {
            try {
                return new Settings(Long.parseLong(need(m, "train.steps", file)), Integer.parseInt(need(m, "train.batch", file)),
                        Integer.parseInt(need(m, "train.seq_len", file)), Double.parseDouble(need(m, "train.lr", file)),
                        Long.parseLong(need(m, "train.seed", file)), Long.parseLong(need(m, "train.eval_every", file)),
                        Long.parseLong(need(m, "train.save_every", file)), Integer.parseInt(need(m, "train.eval_windows", file)),
                        Double.parseDouble(need(m, "train.held_out", file)), need(m, "train.data", file),
                        Double.parseDouble(m.getOrDefault("train.time_s", "0"))); // runs saved before time budgets had none
            } catch (NumberFormatException e) {
                throw new CliFailure(file + ": bad training settings in its metadata: " + e.getMessage());
            }
        }

        private static String need(Map<String, String> m, String key, Path file) {
            String v = m.get(key);
            if (v == null) throw new CliFailure(file + ": no '" + key + "' in its metadata; it cannot be resumed");
            return v;
        }
    }

    /**
     * Where a run ended: its last step, held-out evaluation, throughput and last checkpoint; {@code flops} is the model
     * compute of the steps this process trained ({@link #FLOPS_PER_STEP_NOTE}).
     */
    record Result(long step, HeldOutEvaluation.Result heldOut, double bytesPerSecond, long parameters, Path checkpoint, double seconds,
                  double flops, boolean interrupted) {}

    private TrainingRun() {}

    /** A fresh AdamW over the model's parameter groups (no decay on parameters flagged so). */
    static Optimizer optimizer(ByteLanguageModel model, Settings s) {
        return new dev.tessera.nn.AdamW(model.parameterGroups(), s.lr(), WEIGHT_DECAY);
    }

    /**
     * Trains from {@code startStep} (0 for a fresh run) up to {@code min(steps, stopAfter)}, writing into {@code out}.
     * {@code extra} metadata (model name, family, config) goes into every checkpoint besides the settings.
     * {@code before} is what the run did before {@code startStep} (from its checkpoint's {@code train.elapsed_s}, which a
     * time budget counts, and {@code train.flops}, which the compute sums go on from). {@code profile} (or null) times
     * the ops of the steps.
     */
    static Result run(ByteLanguageModel model, Optimizer opt, Generator data, long startStep, long stopAfter, ByteCorpus corpus,
                      Settings s, Precision precision, Map<String, String> extra, Path out, String task, Before before,
                      StepProfile profile) {
        double elapsedBefore = before.seconds(), flops = before.flops();
        long end = Math.min(s.steps(), stopAfter);
        Path metrics = out.resolve("metrics.jsonl");
        trimMetrics(metrics, startStep);
        // By steps, the schedule is a function of the step alone (a resumed run repeats the curve bit for bit); with a
        // time budget it follows the clock, so two runs differ with the machine's speed.
        LrSchedule schedule = s.timed() ? null : LrSchedule.warmupStableDecay(s.lr(), s.steps(), 0.1, 0.2);
        List<Parameter> params = model.module().parameters();
        boolean dryRun = !params.isEmpty() && params.get(0).value().device().isDryRun(); // its numbers mean nothing
        Map<String, String> meta = new LinkedHashMap<>(extra);
        meta.putAll(s.toMetadata());
        HeldOutEvaluation.Result lastEval = null;
        Path lastCheckpoint = null;
        long bytes = 0, last = startStep;
        long t0 = System.nanoTime();
        double elapsed = elapsedBefore;
        model.module().train(true);
        double trained;
        // Charts are redrawn at each evaluation on a thread of their own (the steps do not wait for the PNGs; a
        // redraw still running is not queued twice) and once more at the end, outside the timed training.
        ExecutorService charts = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tessera-charts");
            t.setDaemon(true);
            return t;
        });
        Future<?> drawing = null;
        ShutdownRequest shutdown = new ShutdownRequest();
        boolean interrupted = false;
        try (MetricsLog log = new MetricsLog(metrics);
             TrainingProgress bar = s.timed() ? TrainingProgress.timed(task, s.seconds(), elapsedBefore) : new TrainingProgress(task, s.steps(), startStep)) {
            for (long step = startStep + 1; step <= end; step++) {
                double progress = s.progress(step - 1, elapsed);
                double lr = s.timed() ? LrSchedule.warmupStableDecayAt(s.lr(), progress, 0.1, 0.2) : schedule.at(step - 1), total, ce, norm;
                double[] bpc;
                opt.setLearningRate(lr);
                if (profile != null) profile.beforeStep(step, progress, end - startStep);
                try (Scope sc = Scope.open(); Precision.Region pr = precision.enter()) {
                    ByteCorpus.Batch b = ContextWindows.fromSample(corpus.sample(data, ByteCorpus.Split.TRAIN, s.heldOut(), s.batch(), s.seqLen()));
                    ByteLanguageModel.TrainingLoss loss = model.loss(b.inputs(), b.targets());
                    loss.total().backward();
                    norm = GradClip.clipByGlobalNorm(params, CLIP);
                    if (!Double.isFinite(norm) && !dryRun) throw diverged(step, lr, loss.total().item(), norm, lastCheckpoint, startStep);
                    opt.step();
                    opt.zeroGrad();
                    total = loss.total().item();
                    ce = loss.crossEntropy().item();
                    bpc = loss.bytesPerChunk();
                }
                if (profile != null) profile.afterStep();
                ForwardFlops forward = ComputeFigures.atChunking(model, s.seqLen(), bpc); // null: a dry run's chunking is NaN
                if (forward != null) flops += 3 * forward.total() * s.batch();
                bytes += (long) s.batch() * s.seqLen();
                double seconds = (System.nanoTime() - t0) / 1e9, bps = bytes / seconds;
                elapsed = elapsedBefore + seconds;
                double after = s.progress(step, elapsed);
                interrupted = shutdown.requested(); // Ctrl-C or kill: stop here, after saving this step
                boolean finished = step == s.steps() || s.timed() && after >= 1, stopping = finished || step == end || interrupted;
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("kind", "train");
                rec.put("step", step);
                rec.put("loss", total);
                rec.put("bpb", MetricsLog.bitsPerByte(ce));
                rec.put("lr", lr);
                rec.put("grad_norm", norm);
                for (int st = 0; st < bpc.length; st++) rec.put("bytes_per_chunk_" + st, bpc[st]);
                rec.put("bytes_per_s", bps);
                rec.put("train_flops", flops);
                rec.put("elapsed_s", elapsed);
                // native memory of live tensors and of the allocator's cache: flat in a healthy run
                rec.put("native_mb", dev.tessera.runtime.MemoryStats.cpuLiveBytes() / 1e6);
                rec.put("native_cached_mb", dev.tessera.runtime.MemoryStats.cpuCachedBytes() / 1e6);
                log.log(rec);
                if (due(step, s.evalEvery(), progress, after, 5) || finished) {
                    try (Precision.Region pr = precision.enter()) {
                        lastEval = HeldOutEvaluation.run(model, corpus, s.heldOut(), s.seqLen(), s.evalWindows(), s.batch());
                    }
                    Map<String, Object> ev = new LinkedHashMap<>();
                    ev.put("kind", "eval");
                    ev.put("step", step);
                    ev.put("bpb", lastEval.bitsPerByte());
                    ev.put("train_flops", flops);
                    for (int st = 0; st < lastEval.bytesPerChunk().length; st++) ev.put("bytes_per_chunk_" + st, lastEval.bytesPerChunk()[st]);
                    for (int st = 0; st < lastEval.bytesPerChunk().length; st++) {
                        double share = lastEval.placement().shareAtWordStarts(st); // NaN when a stage drew no boundary
                        if (Double.isFinite(share)) ev.put("word_start_share_" + st, share);
                    }
                    log.log(ev);
                    if (drawing == null || drawing.isDone()) drawing = charts.submit(() -> log.writeCharts(out));
                }
                if (due(step, s.saveEvery(), progress, after, 3) || stopping) {
                    lastCheckpoint = CheckpointFiles.forStep(out, step);
                    meta.put(ELAPSED, Double.toString(elapsed));
                    meta.put(FLOPS, Double.toString(flops));
                    TrainingCheckpoint.save(lastCheckpoint, model.module(), opt, step, meta, Map.of(DATA_RNG, data));
                }
                bar.update(s.timed() ? (long) elapsed : step, (s.timed() ? "step " + step + " " : "") + status(total, ce, bpc, lastEval, bps));
                last = step;
                if (stopping) break;
            }
            trained = (System.nanoTime() - t0) / 1e9;
            charts.shutdown();
            awaitQuietly(charts);
            log.writeCharts(out);
        } finally {
            charts.shutdownNow();
            if (interrupted) {
                System.out.printf("interrupted: stopped after step %d and saved %s; `tessera train --resume --out %s` continues the run%n",
                        last, lastCheckpoint, out);
            }
            shutdown.close();
        }
        return new Result(last, lastEval, bytes / Math.max(trained, 1e-9), model.parameterCount(), lastCheckpoint, trained, flops - before.flops(),
                interrupted);
    }

    /**
     * The gradients of a step hold NaN or infinity (the loss overflowed, or the run diverged): the run stops before
     * that step's update, so that no checkpoint ever holds the damage, and says where it stands.
     */
    private static CliFailure diverged(long step, double lr, double loss, double norm, Path lastCheckpoint, long startStep) {
        String kept = lastCheckpoint != null ? "the last checkpoint, " + lastCheckpoint + ", is intact"
                : startStep > 0 ? "the checkpoint of step " + startStep + " it resumed from is intact" : "no checkpoint was written yet";
        return new CliFailure(String.format(Locale.ROOT, "the gradients of step %d are not finite (loss %s, gradient norm %s, learning"
                + " rate %.3g): stopped before its update; %s. A lower --lr usually helps", step, loss, norm, lr, kept));
    }

    /**
     * Whether an evaluation (or checkpoint) falls on this step: every {@code every} steps, or with {@code every} 0
     * (a time budget's default) when the run's progress crosses one of {@code parts} equal parts.
     */
    private static boolean due(long step, long every, double before, double after, int parts) {
        if (every > 0) return step % every == 0;
        return Math.floor(Math.min(after, 1) * parts) > Math.floor(before * parts);
    }

    /** Waits for a redraw in progress (its PNGs would otherwise race the final ones). */
    private static void awaitQuietly(ExecutorService pool) {
        try {
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String status(double total, double ce, double[] bpc, HeldOutEvaluation.Result eval, double bps) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "loss %.3f bpb %.3f", total, MetricsLog.bitsPerByte(ce)));
        if (eval != null) sb.append(String.format(Locale.ROOT, " held-out %.3f", eval.bitsPerByte()));
        if (bpc.length > 0) {
            sb.append(" B/chunk");
            for (double v : bpc) sb.append(String.format(Locale.ROOT, " %.2f", v));
        }
        sb.append(String.format(Locale.ROOT, " %.1f kB/s", bps / 1000));
        return sb.toString();
    }

    /** Drops records after {@code step} from a run's metrics (a resumed run rewrites what followed its checkpoint). */
    private static void trimMetrics(Path file, long step) {
        if (!Files.isRegularFile(file)) return;
        ObjectMapper json = new ObjectMapper();
        try {
            List<String> kept = new ArrayList<>();
            for (String line : Files.readAllLines(file)) {
                if (line.isBlank()) continue;
                if (json.readTree(line).path("step").asLong(0) <= step) kept.add(line);
            }
            Files.write(file, kept);
        } catch (IOException e) {
            throw new CliFailure("cannot rewrite " + file + ": " + e.getMessage());
        }
    }
}
