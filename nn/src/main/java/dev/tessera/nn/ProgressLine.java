package dev.tessera.nn;

import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBarRenderer;
import me.tongfei.progressbar.ProgressState;

/**
 * Renders a training run's progress as one line that keeps its metrics within the width it is given.
 *
 * <p>The library's default layout spends most of the line on the bar and the counts and then cuts the line at the
 * terminal's width, which on an 80- or 100-column terminal dropped the bytes per chunk and the throughput. Here the
 * metrics come right after the counts, the elapsed time and ETA follow them (the first thing cut when the line is too
 * long), and the bar is drawn only where at least {@link #MIN_BAR} columns are left over.
 */
final class ProgressLine implements ProgressBarRenderer {
    static final int MIN_BAR = 10;
    static final int MAX_BAR = 30;

    private final boolean timed;
    private final boolean bar;

    /**
     * @param timed the position counts seconds of a time budget rather than steps
     * @param bar draw a bar when there is room (off for logs, where a line is printed every few seconds)
     */
    ProgressLine(boolean timed, boolean bar) {
        this.timed = timed;
        this.bar = bar;
    }

    @Override
    public String render(ProgressState state, int maxLength) {
        Duration elapsed = state.getTotalElapsed();
        long done = state.getCurrent() - state.getStart();
        Duration eta = null;
        if (done > 0 && state.getCurrent() <= state.getMax()) {
            long ms = state.getElapsedAfterStart().toMillis() * (state.getMax() - state.getCurrent()) / done;
            eta = Duration.ofMillis(ms);
        }
        return format(state.getTaskName(), state.getCurrent(), state.getMax(), timed, elapsed, eta,
                state.getExtraMessage(), maxLength, bar);
    }

    /**
     * One progress line: task, percent, an optional bar, the counts (steps, or time spent of a time budget as m:ss),
     * {@code message}, then elapsed time and ETA ({@code eta} null while unknown), cut to {@code width} columns.
     */
    static String format(String task, long current, long max, boolean timed, Duration elapsed, Duration eta,
                         String message, int width, boolean drawBar) {
        double fraction = max > 0 ? Math.min(1, Math.max(0, (double) current / max)) : 0;
        String head = String.format(Locale.ROOT, "%s %3d%%", task, (int) Math.floor(fraction * 100));
        String counts = timed ? clock(Duration.ofSeconds(current)) + "/" + clock(Duration.ofSeconds(max))
                : current + "/" + max; // steps; no unit, so that the metrics of one stage fit 80 columns
        String msg = message == null ? "" : message.strip();
        String times = "(" + clock(elapsed) + ", ETA " + (eta == null ? "?" : clock(eta)) + ")";
        String tail = counts + (msg.isEmpty() ? "" : " " + msg) + " " + times;
        int room = width - head.length() - tail.length() - 4; // the spaces and brackets around the bar
        if (drawBar && room >= MIN_BAR) {
            int cols = Math.min(MAX_BAR, room);
            int filled = (int) Math.floor(fraction * cols);
            String b = "=".repeat(filled) + (filled < cols ? ">" + " ".repeat(cols - filled - 1) : "");
            return head + " [" + b + "] " + tail;
        }
        String line = head + " " + tail;
        return line.length() <= width ? line : line.substring(0, Math.max(0, width));
    }

    /** m:ss below an hour, h:mm:ss above. */
    static String clock(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 3600) return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    }
}
