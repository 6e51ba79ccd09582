package dev.tessera.nn;

import java.io.Console;
import java.time.Duration;
import java.util.function.Consumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * The console progress of a training run: steps done, a line of current metrics, elapsed time and ETA, on standard
 * error. On a terminal it is a bar redrawn in place twice a second; when the output goes to a file or a pipe it is a
 * plain line every {@link #LOG_INTERVAL_MILLIS} ms and at the end, so that logs stay readable.
 */
public final class TrainingProgress implements AutoCloseable {
    static final int LOG_INTERVAL_MILLIS = 10_000;
    /** The width of a logged line: wide enough for every metric of a three-stage model. */
    static final int LOG_WIDTH = 240;

    private final ProgressBar bar;

    public TrainingProgress(String task, long totalSteps, long startStep) {
        this(task, totalSteps, startStep, false);
    }

    private TrainingProgress(String task, long max, long start, boolean timed) {
        boolean terminal = onTerminal();
        ProgressBarBuilder b = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(max)
                .startsFrom(start, Duration.ZERO)
                .setRenderer(new ProgressLine(timed, terminal))
                .continuousUpdate();
        if (terminal) {
            b.setUpdateIntervalMillis(500);
        } else {
            b.setUpdateIntervalMillis(LOG_INTERVAL_MILLIS)
             .setConsumer(new DelegatingProgressBarConsumer(new LogLines(), LOG_WIDTH));
        }
        this.bar = b.build();
    }

    /** Whether a person is watching: a console that is a terminal (Java 22's {@code Console.isTerminal}). */
    private static boolean onTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /**
     * A bar over a time budget of {@code seconds}, {@code elapsedSeconds} of it spent already: {@link #update} then
     * takes the seconds spent (the message names the step).
     */
    public static TrainingProgress timed(String task, double seconds, double elapsedSeconds) {
        long max = Math.max(1, Math.round(seconds));
        return new TrainingProgress(task, max, Math.min(max, (long) elapsedSeconds), true);
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

    /** Prints each line to standard error once: closing the bar renders the last line again. */
    private static final class LogLines implements Consumer<String> {
        private String last;

        @Override public void accept(String line) {
            if (line.equals(last)) return;
            last = line;
            System.err.println(line);
        }
    }
}
