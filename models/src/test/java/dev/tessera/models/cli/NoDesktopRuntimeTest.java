package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line on a Java runtime without {@code java.desktop} — the modules of the jlinked runtime that
 * scripts/gpu-pack.sh builds for GPU machines: {@code train} and {@code chunks} finish, saying that they drew no
 * charts and no PNG, instead of failing on AWT at the end of a run.
 */
class NoDesktopRuntimeTest {
    @TempDir
    Path dir;

    private String child(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ChildJvm.java(), "--limit-modules",
                "java.base,java.logging,java.management,java.xml,jdk.unsupported,jdk.incubator.vector", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", ChildJvm.classPath(), TesseraCli.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the child finished:\n" + out);
        assertEquals(0, p.exitValue(), String.join(" ", args) + "\n" + out);
        assertFalse(out.contains("NoClassDefFoundError") || out.contains("Exception"), out);
        return out;
    }

    @Test
    void trainAndChunksFinishWithoutCharts() throws Exception {
        Path corpus = dir.resolve("words.txt");
        Files.writeString(corpus, "the quick brown fox jumps over the lazy dog\n".repeat(40));
        Path run = dir.resolve("run");
        String train = child("train", "--data", corpus.toString(), "--steps", "2", "--batch", "2", "--seq-len", "32", "--eval-windows", "2",
                "--out", run.toString());
        assertTrue(train.contains("no charts: this Java runtime lacks java.desktop"), train);
        assertTrue(Files.isRegularFile(run.resolve("metrics.jsonl")), "the metrics are written");
        assertFalse(Files.exists(run.resolve("bpb.png")), "no chart");
        String chunks = child("chunks", "--checkpoint", run.resolve("checkpoint-000002.safetensors").toString(), "--text", "the lazy dog",
                "--out", dir.resolve("c.png").toString());
        assertTrue(chunks.contains("stage 0: ") && chunks.contains("no PNG: this Java runtime lacks java.desktop"), chunks);
    }

    @Test
    void theTestsOwnRuntimeDrawsCharts() throws IOException {
        assertTrue(dev.tessera.nn.MetricsLog.chartsAvailable(), "the suites' JDK has java.desktop, so the other CLI tests check the charts");
    }
}
