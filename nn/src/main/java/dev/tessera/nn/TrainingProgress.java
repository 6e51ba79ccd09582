package dev.tessera.nn;

import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** The console progress bar of a training run: steps done, elapsed, ETA and a line of current metrics. */
public final class TrainingProgress implements AutoCloseable {
    private final ProgressBar bar;

    public TrainingProgress(String task, long totalSteps, long startStep) {
        this.bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(totalSteps)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500)
                .startsFrom(startStep, Duration.ZERO)
                .showSpeed()
                .setUnit(" steps", 1)
                .continuousUpdate()
                .build();
    }

    /** Moves to {@code step} and shows {@code message} (e.g. "loss 1.23 bpb 1.77 12.3 kB/s"). */
    public void update(long step, String message) {
        bar.stepTo(step);
        bar.setExtraMessage(" " + message);
    }

    @Override public void close() { bar.close(); }
}
