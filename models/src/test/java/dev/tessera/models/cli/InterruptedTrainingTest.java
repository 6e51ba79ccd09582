package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training process told to exit (SIGTERM here, as {@code kill} sends; Ctrl-C's SIGINT takes the same path) finishes
 * the step in flight, saves it, says how to continue, and exits; {@code --resume} then continues from that step.
 */
class InterruptedTrainingTest {
    @TempDir
    Path dir;

    @Test
    void aKilledRunSavesTheStepInFlightAndResumesFromIt() throws Exception {
        Path corpus = dir.resolve("words.txt");
        Files.writeString(corpus, "the quick brown fox jumps over the lazy dog\n".repeat(60));
        Path run = dir.resolve("run");
        Path log = dir.resolve("child.log");
        Process p = new ProcessBuilder(ChildJvm.java(), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Djava.awt.headless=true", "-cp", ChildJvm.classPath(), TesseraCli.class.getName(),
                "train", "--data", corpus.toString(), "--steps", "100000", "--batch", "2", "--seq-len", "32", "--eval-windows", "1",
                "--out", run.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // Wait until it trains (a few steps in the metrics), then ask it to exit.
            Path metrics = run.resolve("metrics.jsonl");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!(Files.exists(metrics) && Files.readAllLines(metrics).size() >= 3)) {
                assertTrue(p.isAlive() && System.nanoTime() < deadline, "the child trains: " + Files.readString(log));
                Thread.sleep(100);
            }
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(ShutdownRequest.WAIT_SECONDS + 30, TimeUnit.SECONDS), "the child exits");
        } finally {
            p.destroyForcibly();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        Matcher m = Pattern.compile("interrupted: stopped after step (\\d+) and saved (\\S+); `tessera train --resume --out ").matcher(out);
        assertTrue(m.find(), out);
        long step = Long.parseLong(m.group(1));
        assertTrue(step >= 3, out);
        assertEquals(run.resolve(String.format("checkpoint-%06d.safetensors", step)).toString(), m.group(2), out);
        assertTrue(Files.isRegularFile(Path.of(m.group(2))), "the checkpoint of the step in flight is on disk");
        TesseraCliTest.Result resumed = TesseraCliTest.succeed("train", "--resume", "--out", run.toString(), "--stop-after", Long.toString(step + 2),
                "--quiet-summary");
        assertTrue(resumed.out().contains("resuming hnet-tiny from step " + step + " "), resumed.out());
        assertTrue(resumed.out().contains("trained to step " + (step + 2)), resumed.out());
    }
}
