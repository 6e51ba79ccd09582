package dev.tessera.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.cli.TesseraCli;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Tessera method that a training run and a decoding run make hot must be compilable by C1. The Vector API is
 * fast only once compiled; a method too large for C1's register allocator ("out of virtual registers in linear scan")
 * gets no C1 code and no profile, stays in the interpreter, where each vector operation is an object of the API's Java
 * fallback, and reaches C2 late or never: flash attention's tile product once ran that way for the whole of a decoding
 * run (decoding was half as fast), and the gated norm's backward for the first hundreds of training steps. Here two
 * JVMs run a short `train` and `generate` of hnet-tiny with {@code -XX:+PrintCompilation}, and no method of ours may
 * be refused that way.
 */
class JitCompilesTheKernelsTest {
    @Test
    void noKernelIsTooLargeForC1(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("corpus.txt"), run = dir.resolve("run");
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 400; i++) text.append("line ").append(i).append(": bytes, not tokens; chunks, not words.\n");
        Files.writeString(data, text, StandardCharsets.UTF_8);
        String log = child(dir, "train", "--model", "hnet-tiny", "--data", data.toString(), "--steps", "40", "--out", run.toString(),
                "--device", "cpu", "--seed", "1")
                + child(dir, "generate", "--checkpoint", run.toString(), "--prompt", "line 7", "--max-bytes", "2500", "--device", "cpu");
        List<String> refused = log.lines().filter(l -> l.contains("dev.tessera") && l.contains("out of virtual registers")).toList();
        assertTrue(refused.isEmpty(), "C1 could not compile: " + String.join("\n", refused));
        assertTrue(log.contains("dev.tessera.kernels.attention.FlashDecodeCpu::"), "the decoding run compiled its kernels");
    }

    /** Runs the CLI in a JVM that prints its compilations; returns its output. */
    private static String child(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:") || arg.startsWith("-Dtessera.")) cmd.add(arg);
        }
        cmd.addAll(List.of("-XX:+PrintCompilation", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Djava.awt.headless=true", "-cp", System.getProperty("java.class.path"), TesseraCli.class.getName()));
        cmd.addAll(List.of(args));
        Path log = dir.resolve(args[0] + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean done = p.waitFor(5, TimeUnit.MINUTES);
        if (!done) p.destroyForcibly();
        String out = Files.readString(log);
        assertEquals(0, done ? p.exitValue() : -1, () -> args[0] + " failed: " + out.substring(Math.max(0, out.length() - 4000)));
        return out;
    }
}
