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

    /** Runs a command that must succeed (exit 0; the failure shows its output). */
    static Result succeed(String... args) {
        Result r = tessera(args);
        org.junit.jupiter.api.Assertions.assertEquals(0, r.exit(), String.join(" ", args) + "\n" + r.out() + r.err());
        return r;
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
        Matcher compute = Pattern.compile("forward compute (\\S+) MFLOP per byte").matcher(r.out());
        Matcher spent = Pattern.compile("model compute (\\S+) TFLOP in (\\S+) s of training, (\\S+) GFLOP/s").matcher(r.out());
        assertTrue(compute.find() && spent.find(), "the summary gives the compute per byte and the compute spent: " + r.out());
        double tflop = Double.parseDouble(spent.group(1)), seconds = Double.parseDouble(spent.group(2));
        double rate = tflop * 1e3 / seconds; // the seconds are printed to a tenth: a short run's rate is known only that well
        assertEquals(rate, Double.parseDouble(spent.group(3)), 0.05 + rate * (0.05 / Math.max(seconds - 0.05, 0.01) + 1e-3), r.out());
        // 3 x the forward at each step's chunking, summed: the metrics' last figure, and near 3 x the held-out per-byte figure x the bytes
        double logged = trainFlops(run).getLast();
        assertEquals(logged / 1e12, tflop, 1e-3 * tflop, r.out());
        double bytes = 6.0 * 2 * 32; // trainArgs: 6 steps of 2 windows x 32 bytes
        assertEquals(3 * Double.parseDouble(compute.group(1)) * 1e6 * bytes, logged, 0.25 * logged, "other chunkings, close counts: " + r.out());
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

    /**
     * --profile times the training steps after the run's first tenth (the JIT's warm-up), per step, and leaves the
     * evaluations out: every forward op of the step once per backward, the loss and the optimizer once per step.
     */
    @Test
    void profileTimesTheTrainingStepsAfterTheWarmUp() {
        Result r = succeed("train", "--data", corpus.toString(), "--steps", "20", "--batch", "2", "--seq-len", "32", "--eval-every", "3",
                "--eval-windows", "2", "--quiet-summary", "--profile", "--out", dir.resolve("profiled").toString());
        assertTrue(r.out().contains("profile of 18 training steps (3 to 20;"), r.out());
        // Resumed to 40 steps, the new process warms up again: the tenth of its 20 steps is left out, not of the run's 40.
        Result resumed = succeed("train", "--resume", "--out", dir.resolve("profiled").toString(), "--steps", "40", "--profile");
        assertTrue(resumed.out().contains("profile of 18 training steps (23 to 40;"), resumed.out());
        Map<String, Double> perStep = new java.util.HashMap<>();
        for (String line : r.out().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if ((f.length == 3 || f.length == 4) && f[1].matches("[0-9.]+") && f[2].matches("[0-9.]+")) perStep.put(f[0], Double.parseDouble(f[1]));
        }
        assertEquals(1.0, perStep.get("chunk_route"), r.out());
        // the matrix products alone count their operations, so their row alone shows a rate
        String[] matmul = r.out().lines().filter(l -> l.startsWith("matmul ")).findFirst().orElseThrow().trim().split("\\s+");
        assertEquals(4, matmul.length, r.out());
        assertTrue(Double.parseDouble(matmul[3]) > 0.01, r.out());
        assertEquals(1.0, perStep.get("chunk_route_backward"), r.out());
        assertEquals(1.0, perStep.get("cross_entropy"), r.out());
        assertEquals(1.0, perStep.get("cross_entropy_backward"), r.out());
        assertTrue(perStep.getOrDefault("adamw_step", 0.0) > 0, "the optimizer's update is part of the step: " + r.out());
        assertTrue(perStep.getOrDefault("matmul", 0.0) > 0, r.out());
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
        // the model compute goes on from the checkpoint's: the same sum as the straight run's, step by step
        assertEquals(trainFlops(run), trainFlops(split), "train_flops of the straight run and of the stopped-and-resumed run");
    }

    /** The cumulative model compute of each train record, which must grow with every step. */
    private static List<Double> trainFlops(Path runDir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Double> flops = new ArrayList<>();
        for (String line : Files.readAllLines(runDir.resolve("metrics.jsonl"))) {
            var rec = json.readTree(line);
            if (rec.path("kind").asText().equals("train")) flops.add(rec.path("train_flops").asDouble());
        }
        for (int i = 1; i < flops.size(); i++) assertTrue(flops.get(i) > flops.get(i - 1), "every step adds compute: " + flops);
        return flops;
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
        assertTrue(r.err().contains("bytes in") && r.err().contains("2 rows in one batch"), r.err());
        // one prompt: streamed as sampled, the same text a print at the end would give
        Result one = tessera("generate", "--checkpoint", run.toString(), "--prompt", "the lazy", "--max-bytes", "12", "--seed", "3");
        assertEquals(0, one.exit(), one.err());
        assertTrue(one.out().startsWith("the lazy") && one.out().endsWith("\n") && !one.out().contains("---"), one.out());
        assertTrue(one.out().length() > "the lazy\n".length(), one.out());
        assertTrue(one.err().contains("(") && one.err().contains("1 row)"), one.err());
    }

    /** generate --profile times the decoding steps after the first tenth and leaves the bytes as they were. */
    @Test
    void generateProfileTimesTheDecodingSteps() {
        String[] args = {"generate", "--checkpoint", run.toString(), "--prompt", "the quick", "--prompt", "fox", "--max-bytes", "21", "--seed", "5"};
        Result plain = succeed(args);
        String[] withProfile = java.util.Arrays.copyOf(args, args.length + 1);
        withProfile[args.length] = "--profile";
        Result r = succeed(withProfile);
        assertTrue(r.out().startsWith(plain.out()), "the same continuations:\n" + plain.out() + "\nthen\n" + r.out());
        assertTrue(r.out().contains("profile of 18 decoding steps (3 to 20;"), r.out());
        Map<String, Double> perStep = new java.util.HashMap<>();
        for (String line : r.out().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if ((f.length == 3 || f.length == 4) && f[1].matches("[0-9.]+") && f[2].matches("[0-9.]+")) perStep.put(f[0], Double.parseDouble(f[1]));
        }
        assertTrue(perStep.getOrDefault("matmul", 0.0) >= 2, "every step runs the encoder's and decoder's projections: " + r.out());
        assertTrue(perStep.getOrDefault("selective_scan_step", 0.0) >= 2, r.out());
        assertFalse(perStep.containsKey("cross_entropy"), "nothing but decoding is timed: " + r.out());
    }

    @Test
    void infoNamesVersionCpuPathDevicesAndKernels() {
        Result r = tessera("info");
        assertEquals(0, r.exit(), r.err());
        for (String line : new String[] {"tessera ", "java ", "cpu ", "memory  tensors may take ", "cuda ", "cublas ", "kernels runtime: ", "fused: "}) {
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
        Matcher compute = Pattern.compile("forward compute (\\S+) MFLOP per byte \\(matrix products (\\S+), attention (\\S+), convolutions (\\S+), scans (\\S+)\\)")
                .matcher(r.out());
        assertTrue(compute.find(), r.out());
        double parts = 0;
        for (int g = 2; g <= 5; g++) parts += Double.parseDouble(compute.group(g));
        assertEquals(Double.parseDouble(compute.group(1)), parts, 0.003, r.out());
        assertTrue(Double.parseDouble(compute.group(2)) > 0.1 && Double.parseDouble(compute.group(5)) > 0, "a tiny H-Net multiplies and scans: " + r.out());
        Matcher share = Pattern.compile("boundaries at spaces or word starts (\\S+) % \\(stage 0\\) \\(all positions: (\\S+) %\\)").matcher(r.out());
        assertTrue(share.find(), r.out());
        double base = Double.parseDouble(share.group(2));
        assertTrue(base > 10 && base < 60, "the tiny corpus's words are 2-9 letters: " + r.out());
        Matcher places = Pattern.compile("stage 0 boundaries by place: whitespace (\\S+) % \\((\\S+) % of positions\\), 1st byte (\\S+) % \\((\\S+) %\\), "
                + "2nd (\\S+) % \\((\\S+) %\\), 3rd (\\S+) % \\((\\S+) %\\), later (\\S+) % \\((\\S+) %\\)").matcher(r.out());
        assertTrue(places.find(), r.out());
        double boundaries = 0, positions = 0;
        for (int g = 1; g <= 10; g += 2) {
            boundaries += Double.parseDouble(places.group(g));
            positions += Double.parseDouble(places.group(g + 1));
        }
        assertEquals(100, boundaries, 0.3, r.out());
        assertEquals(100, positions, 0.3, r.out());
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
        assertTrue(e.out().contains("stage 0 boundaries by place: whitespace 100.0 %"), e.out());
    }

    @Test
    void compareTrainsHNetAndBothBaselines() {
        Result r = tessera("compare", "--data", corpus.toString(), "--steps", "2", "--batch", "2", "--seq-len", "32", "--eval-windows", "2",
                "--out", dir.resolve("cmp").toString());
        assertEquals(0, r.exit(), r.err());
        for (String m : List.of("hnet-tiny", "transformer-tiny", "mamba-tiny")) assertTrue(r.out().contains(m), r.out());
        assertTrue(r.out().contains("held-out bpb"), r.out());
        // steps, and for H-Net its chunks and where their boundaries fall; the baselines have neither
        assertTrue(Pattern.compile("(?m)^hnet-tiny +[\\d,]+ +2 +\\S+ +\\S+ +\\d\\.\\d{3} +\\S+ \\(stage 0\\) +\\d+\\.\\d %$").matcher(r.out()).find(), r.out());
        Matcher mamba = Pattern.compile("(?m)^mamba-tiny +[\\d,]+ +2 +\\S+ +\\S+ +(\\d\\.\\d{3}) +- +-$").matcher(r.out());
        assertTrue(mamba.find(), r.out());
        // the forward's compute per byte: the preset's at 32-byte windows (its attention-free stack does not depend on the length)
        try (dev.tessera.models.ByteLanguageModel m = dev.tessera.models.ModelCatalog.create("mamba-tiny", new dev.tessera.runtime.Generator(1))) {
            assertEquals(m.forwardFlops(32, new double[0]).total() / 32 / 1e6, Double.parseDouble(mamba.group(1)), 5e-4, r.out());
        }
    }

    /**
     * --time: the schedule follows the clock (warm-up from peak/100, peak, decay towards 0 at the end), the run stops
     * once the time is spent, evaluates at each fifth and saves at each third of it; a stopped run resumes with the
     * time it had trained and ends on the same budget, and one that has used it up says so.
     */
    @Test
    void trainForATimeBudget() throws IOException {
        Path timed = dir.resolve("timed");
        Result r = tessera("train", "--data", corpus.toString(), "--time", "3s", "--batch", "2", "--seq-len", "32", "--eval-windows", "2",
                "--quiet-summary", "--out", timed.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("for 3 s of 2 x 32 bytes"), r.out());
        ObjectMapper json = new ObjectMapper();
        List<com.fasterxml.jackson.databind.JsonNode> train = new ArrayList<>(), eval = new ArrayList<>();
        for (String line : Files.readAllLines(timed.resolve("metrics.jsonl"))) {
            var rec = json.readTree(line);
            (rec.path("kind").asText().equals("train") ? train : eval).add(rec);
        }
        assertTrue(train.size() > 10, "steps in 3 s: " + train.size());
        var lastStep = train.get(train.size() - 1);
        assertTrue(lastStep.path("elapsed_s").asDouble() >= 3, lastStep.toString());
        assertTrue(train.get(train.size() - 2).path("elapsed_s").asDouble() < 3, "the run stops at the first step past its time");
        double peak = 3e-3, first = train.get(0).path("lr").asDouble(), max = 0;
        for (var rec : train) max = Math.max(max, rec.path("lr").asDouble());
        assertEquals(peak / 100, first, 1e-12, "warm-up starts at peak/100");
        assertEquals(peak, max, 1e-12, "the stable phase runs at the peak");
        assertTrue(lastStep.path("lr").asDouble() < 0.5 * peak, "the last step is deep in the decay: " + lastStep);
        // evaluations at the steps that cross a fifth of the time, checkpoints at those that cross a third
        List<Long> fifths = new ArrayList<>(), thirds = new ArrayList<>();
        for (int i = 0; i < train.size(); i++) {
            double before = i == 0 ? 0 : train.get(i - 1).path("elapsed_s").asDouble() / 3, after = Math.min(1, train.get(i).path("elapsed_s").asDouble() / 3);
            if (Math.floor(after * 5) > Math.floor(before * 5)) fifths.add(train.get(i).path("step").asLong());
            if (Math.floor(after * 3) > Math.floor(before * 3)) thirds.add(train.get(i).path("step").asLong());
        }
        assertEquals(fifths, eval.stream().map(e -> e.path("step").asLong()).toList());
        assertTrue(fifths.size() >= 4 && fifths.get(fifths.size() - 1) == lastStep.path("step").asLong(), fifths.toString());
        List<Path> saved;
        try (var files = Files.list(timed)) {
            saved = files.filter(p -> p.getFileName().toString().startsWith("checkpoint-")).sorted().toList();
        }
        assertEquals(thirds.stream().map(t -> CheckpointFiles.forStep(timed, t)).toList(), saved);
        Map<String, String> meta = dev.tessera.nn.TrainingCheckpoint.metadata(saved.get(saved.size() - 1));
        assertEquals(3.0, Double.parseDouble(meta.get("train.time_s")));
        assertEquals(lastStep.path("elapsed_s").asDouble(), Double.parseDouble(meta.get("train.elapsed_s")), 1e-9);

        Path split = dir.resolve("timed-split");
        Result head = tessera("train", "--data", corpus.toString(), "--time", "3s", "--batch", "2", "--seq-len", "32", "--eval-windows", "2",
                "--stop-after", "4", "--quiet-summary", "--out", split.toString());
        assertEquals(0, head.exit(), head.err());
        Result rest = tessera("train", "--resume", "--out", split.toString(), "--quiet-summary");
        assertEquals(0, rest.exit(), rest.err());
        assertTrue(rest.out().contains("resuming hnet-tiny from step 4 (") && rest.out().contains(" of 3 s ("), rest.out());
        List<Double> elapsed = new ArrayList<>();
        for (String line : Files.readAllLines(split.resolve("metrics.jsonl"))) {
            var rec = json.readTree(line);
            if (rec.path("kind").asText().equals("train")) elapsed.add(rec.path("elapsed_s").asDouble());
        }
        for (int i = 1; i < elapsed.size(); i++) assertTrue(elapsed.get(i) > elapsed.get(i - 1), "the resumed run counts on: " + elapsed);
        assertTrue(elapsed.get(elapsed.size() - 1) >= 3 && elapsed.get(elapsed.size() - 2) < 3, elapsed.toString());
        Result again = tessera("train", "--resume", "--out", split.toString(), "--quiet-summary");
        assertEquals(0, again.exit(), again.err());
        assertTrue(again.out().contains("already used its 3 s; pass a longer --time"), again.out());
    }

    /** Several seeds: every model once per seed into its own folder, then per model the mean and spread. */
    @Test
    void compareOverSeveralSeeds() {
        Path cmp = dir.resolve("cmp-seeds");
        Result r = tessera("compare", "--data", corpus.toString(), "--steps", "2", "--models", "hnet-tiny,transformer-tiny", "--batch", "2",
                "--seq-len", "32", "--eval-windows", "2", "--seed", "3,4", "--out", cmp.toString());
        assertEquals(0, r.exit(), r.err());
        Map<String, double[]> bpb = new java.util.HashMap<>();
        Matcher run = Pattern.compile("(?m)^(hnet-tiny|transformer-tiny) +([34]) +[\\d,]+ +2 +(\\S+) ").matcher(r.out());
        int runs = 0;
        while (run.find()) {
            bpb.computeIfAbsent(run.group(1), k -> new double[2])[Integer.parseInt(run.group(2)) - 3] = Double.parseDouble(run.group(3));
            runs++;
        }
        assertEquals(4, runs, r.out());
        for (String m : List.of("hnet-tiny", "transformer-tiny")) {
            for (long seed : List.of(3L, 4L)) assertTrue(Files.isDirectory(cmp.resolve(m + "-seed" + seed)), m + " seed " + seed);
            double[] b = bpb.get(m);
            assertNotEquals(b[0], b[1], "seeds 3 and 4 train differently: " + r.out());
            Matcher mean = Pattern.compile("(?m)^" + m + " +2 +(\\S+) +(\\S+) ").matcher(r.out().substring(r.out().indexOf("means over seeds 3, 4:")));
            assertTrue(mean.find(), r.out());
            assertEquals((b[0] + b[1]) / 2, Double.parseDouble(mean.group(1)), 2e-4, r.out());
            assertEquals(Math.abs(b[0] - b[1]) / Math.sqrt(2), Double.parseDouble(mean.group(2)), 2e-4, r.out()); // from the table's rounded values
        }
        assertOneLineError(tessera("compare", "--data", corpus.toString(), "--steps", "1", "--seed", "3,3", "--out", dir.resolve("cmp-dup").toString()),
                "distinct seeds");
    }

    @Test
    void compareForEqualTime() {
        Result r = tessera("compare", "--data", corpus.toString(), "--time", "1s", "--models", "hnet-tiny,transformer-tiny", "--batch", "2",
                "--seq-len", "32", "--eval-windows", "2", "--out", dir.resolve("cmp-timed").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("1 s each"), r.out());
        Matcher row = Pattern.compile("(?m)^transformer-tiny\\s+\\S+\\s+(\\d+)\\s").matcher(r.out());
        assertTrue(row.find() && Long.parseLong(row.group(1)) > 1, r.out());
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
        // an ordinal no machine here has (cuda:0 may be a GPU, or the CUDA emulator that the gpu-tagged tests opened)
        assertOneLineError(tessera("train", "--device", "cuda:63", "--data", corpus.toString()), "--device cuda:63: ");
        assertOneLineError(tessera("train", "--device", "cpu", "--precision", "bf16", "--data", corpus.toString()),
                "--precision bf16 needs a CUDA device");
        assertOneLineError(tessera("eval", "--checkpoint", run.toString(), "--precision", "fp8"), "unknown precision 'fp8'");
        assertOneLineError(tessera("train", "--data", dir.resolve("missing.txt").toString()), "no such data file");
        if (Files.exists(Path.of("/dev/null"))) assertOneLineError(tessera("train", "--data", "/dev/null"), "neither a regular file nor a folder");
        Path emptyFile = Files.writeString(dir.resolve("empty.txt"), ""), emptyDir = Files.createDirectories(dir.resolve("empty-folder"));
        Files.writeString(emptyDir.resolve("nothing.txt"), "");
        assertOneLineError(tessera("train", "--data", emptyFile.toString()), "is empty");
        assertOneLineError(tessera("train", "--data", emptyDir.toString()), "holds no non-empty files");
        assertOneLineError(tessera("train", "--steps", "many"), "--steps");
        assertOneLineError(tessera("train", "--time", "5x", "--data", corpus.toString()), "'5x' is not a duration");
        assertOneLineError(tessera("compare", "--time", "0s", "--data", corpus.toString()), "'0s' is not a positive duration");
        assertOneLineError(tessera(trainArgs(run)), "already holds checkpoints");
    }

    /** A damaged latest checkpoint: resuming says what is wrong and which earlier checkpoint is left to resume from. */
    @Test
    void resumingFromADamagedCheckpointNamesTheOneBefore() throws IOException {
        Path copy = dir.resolve("damaged-run");
        Files.createDirectories(copy);
        try (var files = Files.list(run)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("checkpoint-")).toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        Path latest = copy.resolve("checkpoint-000006.safetensors");
        byte[] bytes = Files.readAllBytes(latest);
        Files.write(latest, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Result r = tessera("train", "--resume", "--out", copy.toString(), "--quiet-summary");
        assertOneLineError(r, "checkpoint-000006.safetensors");
        assertTrue(r.err().contains("to resume from the checkpoint before it, checkpoint-000004.safetensors, move checkpoint-000006.safetensors out of"),
                r.err());
        Files.move(latest, dir.resolve("set-aside.safetensors"));
        assertTrue(succeed("train", "--resume", "--out", copy.toString(), "--quiet-summary").out().contains("from step 4"));
    }

    /**
     * A run whose gradients overflow stops before applying them (no checkpoint ever holds NaN) with one line; a
     * checkpoint whose weights hold NaN makes {@code generate} stop with one line instead of printing whatever byte
     * NaN logits happen to select.
     */
    @Test
    void nonFiniteNumbersStopTrainingAndGenerationWithOneLine() throws IOException {
        Result diverged = tessera(trainArgs(dir.resolve("diverged"), "--lr", "1e6"));
        assertOneLineError(diverged, "are not finite");
        assertTrue(diverged.err().contains("stopped before its update") && diverged.err().contains("--lr"), diverged.err());
        Path bad = dir.resolve("nan-weights.safetensors");
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open();
             SafeTensors.Reader r = SafeTensors.open(run.resolve("checkpoint-000006.safetensors"))) {
            java.util.Map<String, dev.tessera.runtime.Tensor> tensors = new java.util.LinkedHashMap<>(r.loadAll());
            String embedding = tensors.keySet().stream().filter(k -> k.contains("embedding")).findFirst().orElseThrow();
            tensors.put(embedding, tensors.get(embedding).mul(Double.NaN));
            SafeTensors.write(bad, tensors, r.metadata());
        }
        Result nan = tessera("generate", "--checkpoint", bad.toString(), "--prompt", "the", "--max-bytes", "4");
        assertOneLineError(nan, "are not finite");
        assertTrue(nan.err().contains("row 0 after 0 generated bytes"), nan.err());
    }

    /**
     * More than the host has: the run stops with one line naming the device, the request, the tensor and the limit,
     * instead of the kernel killing the process (which it did before the host allocator kept books against a limit).
     * The limit here is set low so that a modest batch crosses it.
     */
    @Test
    void aRunPastTheHostMemoryLimitStopsWithOneLine() {
        String property = "tessera.hostMemoryLimit", before = System.getProperty(property);
        long[] held = new long[3];
        try {
            System.setProperty(property, Long.toString(dev.tessera.runtime.MemoryStats.cpuLiveBytes() + (96L << 20)));
            for (int attempt = 0; attempt < 3; attempt++) {
                Result r = tessera("train", "--data", corpus.toString(), "--steps", "1", "--batch", "64", "--seq-len", "4096",
                        "--eval-windows", "1", "--out", dir.resolve("too-big-" + attempt).toString());
                assertOneLineError(r, "cpu: out of memory allocating ");
                assertTrue(r.err().contains(" for a tensor of [") && r.err().contains("-Dtessera.hostMemoryLimit="), r.err());
                held[attempt] = dev.tessera.runtime.MemoryStats.cpuLiveBytes();
            }
        } finally {
            if (before == null) System.clearProperty(property);
            else System.setProperty(property, before);
        }
        // The first attempt may leave what is created once per process (lookup tables); a failure itself leaks nothing.
        assertEquals(held[1], held[2], "the failed run released what it had allocated");
    }
}
