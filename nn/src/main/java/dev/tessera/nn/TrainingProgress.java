package dev.tessera.nn;

import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** The console progress bar of a training run: steps done, elapsed, ETA and a line of current metrics. */
public final class TrainingProgress implements AutoCloseable {
    private final ProgressBar bar;

    public TrainingProgress(String task, long totalSteps, long startStep) {
        this(task, totalSteps, startStep, " steps", true);
    }

    private TrainingProgress(String task, long max, long start, String unit, boolean speed) {
        ProgressBarBuilder b = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(max)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500)
                .startsFrom(start, Duration.ZERO)
                .setUnit(unit, 1)
                .continuousUpdate();
        if (speed) b.showSpeed();
        this.bar = b.build();
    }

    /**
     * A bar over a time budget of {@code seconds}, {@code elapsedSeconds} of it spent already: {@link #update} then
     * takes the seconds spent (the message names the step).
     */
    public static TrainingProgress timed(String task, double seconds, double elapsedSeconds) {
        long max = Math.max(1, Math.round(seconds));
        return new TrainingProgress(task, max, Math.min(max, (long) elapsedSeconds), " s", false);
    }

    /**
     * Moves to {@code position} (the step, or the seconds spent for a {@link #timed} bar) and shows {@code message}
     * (e.g. "loss 1.23 bpb 1.77 12.3 kB/s").
     */
    public void update(long position, String message) {
        bar.stepTo(Math.min(position, bar.getMax()));
        bar.setExtraMessage(" " + message);
    }

    @Override public void close() { bar.close(); }
}
