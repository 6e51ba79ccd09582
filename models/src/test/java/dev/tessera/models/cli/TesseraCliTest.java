package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.nn.SafeTensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** End-to-end runs of every subcommand on a tiny corpus, with a few steps of tiny batches. */
class TesseraCliTest {
    @TempDir
    static Path dir;
    static Path corpus, run;

    /** Exit code, stdout and stderr of one command. */
    record Result(int exit, String out, String err) {}

    static synchronized Result tessera(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = TesseraCli.run(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static String[] trainArgs(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--data", corpus.toString(), "--steps", "6", "--batch", "2", "--seq-len", "32",
                "--eval-every", "3", "--save-every", "2", "--eval-windows", "2", "--seed", "7", "--quiet-summary", "--out", out.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @BeforeAll
    static void trainOnce() throws IOException {
        StringBuilder sb = new StringBuilder();
        String[] words = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "runs", "far", "away"};
        for (int i = 0; sb.length() < 6000; i++) sb.append(words[(i * 7 + i / 5) % words.length]).append(i % 9 == 8 ? ".\n" : " ");
        corpus = dir.resolve("tiny.txt");
        Files.writeString(corpus, sb.toString());
        run = dir.resolve("run");
        Result r = tessera(trainArgs(run));
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("held-out bits per byte"), r.out());
    }

    private static List<Double> trainLosses(Path runDir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Double> losses = new ArrayList<>();
        for (String line : Files.readAllLines(runDir.resolve("metrics.jsonl"))) {
            var rec = json.readTree(line);
            if (rec.path("kind").asText().equals("train")) {
                losses.add(rec.path("loss").asDouble());
                for (String key : List.of("bpb", "lr", "bytes_per_s", "native_mb", "native_cached_mb")) {
                    assertTrue(rec.has(key), "a training record has " + key + ": " + line);
                }
            }
        }
        return losses;
    }

    @Test
    void trainWritesCheckpointsMetricsAndCharts() throws IOException {
        for (String f : List.of("checkpoint-000002.safetensors", "checkpoint-000006.safetensors", "metrics.jsonl", "loss.png", "bpb.png",
                "bytes_per_chunk_0.png")) {
            assertTrue(Files.isRegularFile(run.resolve(f)), f + " in " + run);
        }
        assertEquals(6, trainLosses(run).size());
        Map<String, String> meta = dev.tessera.nn.TrainingCheckpoint.metadata(run.resolve("checkpoint-000006.safetensors"));
        assertEquals("hnet-tiny", meta.get("model"));
        assertTrue(meta.get("config").contains("arch_layout"));
        assertTrue(meta.containsKey("rng.data.offset"));
    }

    @Test
    void resumeRepeatsTheLossCurve() throws IOException {
        Path split = dir.resolve("split");
        Result first = tessera(trainArgs(split, "--stop-after", "3"));
        assertEquals(0, first.exit(), first.err());
        assertEquals(3, trainLosses(split).size());
        Result rest = tessera("train", "--resume", "--out", split.toString(), "--quiet-summary");
        assertEquals(0, rest.exit(), rest.err());
        assertTrue(rest.out().contains("resuming hnet-tiny from step 3"), rest.out());
        List<Double> straight = trainLosses(run), resumed = trainLosses(split);
        assertEquals(6, resumed.size());
        // The same curve bit for bit, although the two runs meet the JIT at different stages of warm-up: no kernel's
        // result depends on the compilation tier (VectorMath, Lanes). A wrong data offset or optimizer state would
        // differ in the first digits, a tier-dependent kernel in the last bits.
        assertEquals(straight, resumed, "losses of the straight run and of the stopped-and-resumed run");
    }

    @Test
    void generateContinuesTwoPrompts() {
        Result r = tessera("generate", "--checkpoint", run.toString(), "--prompt", "the quick", "--prompt", "fox", "--max-bytes", "12",
                "--seed", "3");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("--- [1]\nthe quick") && r.out().contains("--- [2]\nfox"), r.out());
        Result again = tessera("generate", "--checkpoint", run.toString(), "--prompt", "the quick", "--prompt", "fox", "--max-bytes", "12",
                "--seed", "3");
        assertEquals(r.out(), again.out(), "a seed fixes the sample");
    }

    @Test
    void infoNamesVersionCpuPathDevicesAndKernels() {
        Result r = tessera("info");
        assertEquals(0, r.exit(), r.err());
        for (String line : new String[] {"tessera ", "java ", "cpu ", "cuda ", "cublas ", "kernels runtime: ", "fused: "}) {
            assertTrue(r.out().contains(line), "info lacks '" + line + "': " + r.out());
        }
        assertTrue(r.out().contains("Vector API") || r.out().contains("scalar"), r.out());
    }

    @Test
    void evalPrintsBitsPerByteAndBytesPerChunk() {
        Result r = tessera("eval", "--checkpoint", run.resolve("checkpoint-000006.safetensors").toString(), "--windows", "4");
        assertEquals(0, r.exit(), r.err());
        Matcher m = Pattern.compile("bits per byte (\\S+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double bpb = Double.parseDouble(m.group(1));
        assertTrue(bpb > 0 && bpb < 9, r.out());
        assertTrue(r.out().contains("bytes per chunk"), r.out());
        Matcher share = Pattern.compile("boundaries at spaces or word starts (\\S+) % \\(stage 0\\) \\(all positions: (\\S+) %\\)").matcher(r.out());
        assertTrue(share.find(), r.out());
        double base = Double.parseDouble(share.group(2));
        assertTrue(base > 10 && base < 60, "the tiny corpus's words are 2-9 letters: " + r.out());
    }

    @Test
    void scoreWritesLogitsLogprobsAndBoundaryProbabilities() {
        Path out = dir.resolve("score.safetensors");
        String text = "the lazy dog runs";
        Result r = tessera("score", "--checkpoint", run.toString(), "--text", text, "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        Matcher m = Pattern.compile("bits per byte (\\S+)").matcher(r.out());
        assertTrue(m.find() && Double.isFinite(Double.parseDouble(m.group(1))), r.out());
        int l = text.length();
        try (SafeTensors.Reader st = SafeTensors.open(out)) {
            assertArrayEquals(new int[] {l, 256}, st.entries().get("logits").shape());
            assertArrayEquals(new int[] {l - 1}, st.entries().get("logprobs").shape());
            assertArrayEquals(new int[] {l}, st.entries().get("boundary_prob.0").shape());
            for (float v : st.load("logprobs").toFloatArray()) assertTrue(v <= 0 && Float.isFinite(v));
        }
    }

    @Test
    void chunksMarksBoundariesAndWritesPng() {
        Path png = dir.resolve("chunks.png");
        Result r = tessera("chunks", "--checkpoint", run.toString(), "--text", "the quick brown fox\njumps over", "--out", png.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("stage 0: "), r.out());
        assertTrue(Files.isRegularFile(png) && png.toFile().length() > 100);
    }

    /** The whitespace rule travels in the checkpoint: chunks and eval of the reloaded model show it. */
    @Test
    void whitespaceRoutedModelKeepsItsRuleThroughItsCheckpoint() {
        Path ws = dir.resolve("ws");
        Result t = tessera(trainArgs(ws, "--model", "hnet-tiny-whitespace"));
        assertEquals(0, t.exit(), t.err());
        Result c = tessera("chunks", "--checkpoint", ws.toString(), "--text", "the quick brown fox jumps over", "--out", dir.resolve("ws.png").toString());
        assertEquals(0, c.exit(), c.err());
        assertTrue(c.out().contains("stage 0: the| quick| brown| fox| jumps| over"), c.out());
        Result e = tessera("eval", "--checkpoint", ws.toString(), "--windows", "4");
        assertEquals(0, e.exit(), e.err());
        assertTrue(e.out().contains("boundaries at spaces or word starts 100.0 %"), e.out());
    }

    @Test
    void compareTrainsHNetAndBothBaselines() {
        Result r = tessera("compare", "--data", corpus.toString(), "--steps", "2", "--batch", "2", "--seq-len", "32", "--eval-windows", "2",
                "--out", dir.resolve("cmp").toString());
        assertEquals(0, r.exit(), r.err());
        for (String m : List.of("hnet-tiny", "transformer-tiny", "mamba-tiny")) assertTrue(r.out().contains(m), r.out());
        assertTrue(r.out().contains("held-out bpb"), r.out());
    }

    private static void assertOneLineError(Result r, String expected) {
        assertNotEquals(0, r.exit());
        List<String> lines = r.err().lines().filter(s -> s.startsWith("tessera")).toList();
        assertEquals(1, lines.size(), r.err());
        assertTrue(lines.get(0).contains(expected), r.err());
        assertFalse(r.err().contains("Exception") || r.err().contains("\tat "), r.err());
    }

    @Test
    void badInputsGiveOneClearLine() throws IOException {
        assertOneLineError(tessera("generate", "--checkpoint", dir.resolve("nope.safetensors").toString()), "no such checkpoint");
        Path corrupt = dir.resolve("corrupt.safetensors");
        Files.write(corrupt, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        assertOneLineError(tessera("eval", "--checkpoint", corrupt.toString()), "corrupt.safetensors");
        assertOneLineError(tessera("train", "--model", "hnet-huge", "--data", corpus.toString(), "--out", dir.resolve("x").toString()),
                "unknown model 'hnet-huge'");
        assertOneLineError(tessera("train", "--device", "cuda", "--data", corpus.toString()), "--device cuda: ");
        assertOneLineError(tessera("train", "--device", "cpu", "--precision", "bf16", "--data", corpus.toString()),
                "--precision bf16 needs a CUDA device");
        assertOneLineError(tessera("eval", "--checkpoint", run.toString(), "--precision", "fp8"), "unknown precision 'fp8'");
        assertOneLineError(tessera("train", "--data", dir.resolve("missing.txt").toString()), "no such data file");
        assertOneLineError(tessera("train", "--steps", "many"), "--steps");
        assertOneLineError(tessera(trainArgs(run)), "already holds checkpoints");
    }
}
