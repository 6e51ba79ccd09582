package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ProgressLineTest {
    private static final String METRICS = "loss 2.733 bpb 3.892 held-out 3.898 B/chunk 3.05 5.2 kB/s";

    @Test
    void anEightyColumnTerminalKeepsEveryMetricAndCutsTheTimesFirst() {
        // 79 columns: what the library gives the renderer on an 80-column terminal
        String line = ProgressLine.format("train", 374, 1000, false, Duration.ofSeconds(12), Duration.ofSeconds(11),
                METRICS, 79, true);
        assertTrue(line.length() <= 79, line);
        assertTrue(line.startsWith("train  37% 374/1000 " + METRICS), line);
        assertFalse(line.contains("["), "no room for a bar: " + line);
    }

    @Test
    void aWideTerminalDrawsTheBarWithItsFillAndTheTimes() {
        String line = ProgressLine.format("train", 30, 60, false, Duration.ofSeconds(75), Duration.ofSeconds(3725),
                METRICS, 200, true);
        String bar = "[" + "=".repeat(15) + ">" + " ".repeat(14) + "]";
        assertEquals("train  50% " + bar + " 30/60 " + METRICS + " (1:15, ETA 1:02:05)", line);
    }

    @Test
    void theBarShrinksToTheRoomLeftAndVanishesBelowTheMinimum() {
        String wide = ProgressLine.format("train", 60, 60, false, Duration.ZERO, Duration.ZERO, "m", 200, true);
        assertTrue(wide.contains("[" + "=".repeat(ProgressLine.MAX_BAR) + "]"), wide);
        String base = ProgressLine.format("train", 60, 60, false, Duration.ZERO, Duration.ZERO, "m", 1000, false);
        int justRoom = base.length() + 3 + ProgressLine.MIN_BAR;
        String narrow = ProgressLine.format("train", 60, 60, false, Duration.ZERO, Duration.ZERO, "m", justRoom, true);
        assertEquals(justRoom, narrow.length(), narrow);
        assertTrue(narrow.contains("[" + "=".repeat(ProgressLine.MIN_BAR) + "]"), narrow);
        String none = ProgressLine.format("train", 60, 60, false, Duration.ZERO, Duration.ZERO, "m", justRoom - 1, true);
        assertEquals(base, none);
    }

    @Test
    void aLogLineHasNoBarAndATimeBudgetCountsMinutes() {
        String line = ProgressLine.format("hnet-tiny", 153, 300, true, Duration.ofSeconds(153), null,
                "step 1234 " + METRICS, TrainingProgress.LOG_WIDTH, false);
        assertEquals("hnet-tiny  51% 2:33/5:00 step 1234 " + METRICS + " (2:33, ETA ?)", line);
    }

    @Test
    void positionsPastTheEndOrWithoutAMaximumStayInRange() {
        assertTrue(ProgressLine.format("t", 7, 5, false, Duration.ZERO, null, "", 80, true).startsWith("t 100% "));
        assertTrue(ProgressLine.format("t", 0, 0, false, Duration.ZERO, null, null, 80, true).startsWith("t   0% "));
        assertEquals("", ProgressLine.format("t", 1, 2, false, Duration.ZERO, null, "x", 0, true));
    }
}
