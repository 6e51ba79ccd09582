package dev.tessera.models.cli;

import dev.tessera.runtime.Profiler;
import java.util.Locale;
import java.util.Map;

/**
 * {@code train --profile} and {@code generate --profile}: the time per op of the steps past the first tenth of the run
 * (of what is left of it when resumed), where the JIT compiles the kernels (the first steps run several times slower)
 * and the learning rate warms up; a run of fewer than {@link #WHOLE_RUN_BELOW} steps is profiled whole. What falls
 * between the profiled steps is left out — evaluations, checkpoints and charts of a training run, the sampling of a
 * generation — so the table is one step's work (a training step's forward, backward and update, or one byte decoded
 * for every row), reported per step beside the steps' own wall time.
 */
final class StepProfile {
    /** Runs shorter than this many steps have no warm-up worth leaving out. */
    static final int WHOLE_RUN_BELOW = 10;
    /** The part of the run (by its progress, steps or time) left out at the start. */
    static final double WARM_UP = 0.1;

    private final String stepKind, leftOut;
    private long steps, first, last, nanos, started;
    /** The run's progress when this process trained its first step (0 for a fresh run, more for a resumed one). */
    private double startedAt = Double.NaN;

    /** A training run's profile. */
    StepProfile() { this("training steps", "the first tenth of those trained here and the evaluations left out"); }

    /**
     * Clears the op counters: the report covers this run's steps only. {@code what} names the steps ("decoding
     * steps"), {@code leftOut} says what the table leaves out.
     */
    StepProfile(String what, String leftOut) {
        this.stepKind = what;
        this.leftOut = leftOut;
        Profiler.reset();
    }

    /**
     * Before the step {@code step} whose run has made {@code progress} (0–1) of its steps or time; this process trains
     * {@code runSteps} steps at most. A resumed run warms its JIT up again, so the tenth left out is of what this process
     * trains: from the progress of its first step to the end.
     */
    void beforeStep(long step, double progress, long runSteps) {
        if (Double.isNaN(startedAt)) startedAt = progress;
        if (progress - startedAt < WARM_UP * (1 - startedAt) && runSteps >= WHOLE_RUN_BELOW) return;
        if (steps == 0) first = step;
        last = step;
        Profiler.enable();
        started = System.nanoTime();
    }

    /** After the step's forward, backward and optimizer update, before its evaluation or checkpoint. */
    void afterStep() {
        if (started == 0) return;
        Profiler.disable();
        nanos += System.nanoTime() - started;
        steps++;
        started = 0;
    }

    /** The table: calls and milliseconds per profiled step by op, the most expensive first. */
    String report() {
        if (steps == 0) return "profile: no step was profiled\n";
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "profile of %d %s (%d to %d; %s): %.3f ms per step%n",
                steps, stepKind, first, last, leftOut, nanos / 1e6 / steps));
        sb.append(String.format(Locale.ROOT, "%-30s %12s %10s %10s%n", "op", "calls/step", "ms/step", "GFLOP/s"));
        Profiler.snapshot().entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue().nanos(), a.getValue().nanos()))
                .forEach((Map.Entry<String, Profiler.OpStats> e) -> {
                    double rate = e.getValue().gflopsPerSecond();
                    sb.append(String.format(Locale.ROOT, "%-30s %12.1f %10.3f %10s%n", e.getKey(), (double) e.getValue().calls() / steps,
                            e.getValue().millis() / steps, Double.isNaN(rate) ? "" : String.format(Locale.ROOT, "%.1f", rate)));
                });
        sb.append("(an op's time includes the ops its kernel calls: the times overlap and do not sum to the step; GFLOP/s: the matrix\n"
                + " products' 2·m·n·k over their own time, forward and backward)\n");
        return sb.toString();
    }
}
