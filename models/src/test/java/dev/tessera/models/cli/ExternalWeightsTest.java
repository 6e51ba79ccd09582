package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.models.ByteSampler;
import dev.tessera.models.HeldOutEvaluation;
import dev.tessera.models.hnet.HNetConfig;
import dev.tessera.models.hnet.HNetByteModel;
import dev.tessera.nn.ByteCorpus;
import dev.tessera.nn.SafeTensors;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --config} with {@code --weights}: a model whose weights come from elsewhere, under the reference parameter
 * names and without tessera's checkpoint metadata (as the reference implementation publishes them), is scored,
 * sampled, evaluated and chunked exactly as the same model in memory.
 */
class ExternalWeightsTest {
    @TempDir
    static Path dir;
    static Path config, weights;
    static final HNetConfig CFG = HNetConfig.preset("hnet-tiny");
    static final long SEED = 77;

    @BeforeAll
    static void writeWeights() throws Exception {
        config = dir.resolve("config.json");
        weights = dir.resolve("model.safetensors");
        Files.writeString(config, CFG.toJson());
        try (HNetByteModel m = model(); Scope s = Scope.open()) {
            SafeTensors.write(weights, m.module().stateDict(), Map.of()); // only tensors under the reference names
        }
    }

    /** The model the weights file holds, in memory. */
    private static HNetByteModel model() {
        HNetByteModel m = new HNetByteModel(CFG, new Generator(SEED));
        m.module().eval();
        return m;
    }

    private static String[] withWeights(String command, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of(command, "--config", config.toString(), "--weights", weights.toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void scoreGivesTheModelsLogits() throws Exception {
        String text = "To be, or not to be";
        Path out = dir.resolve("score.safetensors");
        float[] expected;
        try (HNetByteModel m = model(); Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            long[] in = new long[b.length];
            for (int i = 0; i < b.length; i++) in[i] = b[i] & 0xFF;
            expected = m.forward(Tensor.of(in, 1, b.length)).logits().to(dev.tessera.runtime.DType.F32).toFloatArray();
        }
        TesseraCliTest.succeed(withWeights("score", "--text", text, "--out", out.toString()));
        try (Scope s = Scope.open()) {
            assertArrayEquals(expected, SafeTensors.read(out).get("logits").toFloatArray());
        }
    }

    @Test
    void bf16WeightsLoadIntoTheF32Model() throws Exception {
        Path bf16 = dir.resolve("model-bf16.safetensors"), out = dir.resolve("score-bf16.safetensors");
        String text = "Once more unto the breach";
        float[] expected;
        try (HNetByteModel m = model(); Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Map<String, Tensor> rounded = new java.util.LinkedHashMap<>();
            m.module().stateDict().forEach((n, t) -> rounded.put(n, t.to(dev.tessera.runtime.DType.BF16)));
            SafeTensors.write(bf16, rounded, Map.of()); // as published checkpoints trained in BF16 may come
            m.module().loadStateDict(rounded, true); // the in-memory model rounded the same way
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            long[] in = new long[b.length];
            for (int i = 0; i < b.length; i++) in[i] = b[i] & 0xFF;
            expected = m.forward(Tensor.of(in, 1, b.length)).logits().to(dev.tessera.runtime.DType.F32).toFloatArray();
        }
        TesseraCliTest.succeed("score", "--config", config.toString(), "--weights", bf16.toString(), "--text", text, "--out", out.toString());
        try (Scope s = Scope.open()) {
            assertArrayEquals(expected, SafeTensors.read(out).get("logits").toFloatArray());
        }
    }

    /**
     * {@code --weights-dtype bf16} keeps the linear weights in BF16: what each command gives equals what the model
     * with its linear weights rounded to BF16 gives, from a tessera checkpoint and from {@code --config --weights}.
     */
    @Test
    void bf16WeightsDtypeRunsTheModelWithItsLinearWeightsRounded() throws Exception {
        String text = "Now is the winter of our discontent";
        List<String> prompts = List.of("To be", "Ham");
        Path checkpoint = dir.resolve("tessera-checkpoint.safetensors"), out = dir.resolve("score-dtype.safetensors");
        float[] rounded, exact;
        List<byte[]> sampled;
        try (HNetByteModel m = model(); Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            dev.tessera.nn.TrainingCheckpoint.save(checkpoint, m.module(), null, 0,
                    Map.of(CheckpointFiles.FAMILY, m.family(), CheckpointFiles.CONFIG, m.configJson()), Map.of());
            Tensor bytes = Tensor.of(bytesOf(text), 1, text.length());
            exact = m.forward(bytes).logits().toFloatArray();
            m.module().storeLinearWeightsAs(dev.tessera.runtime.DType.BF16).storeLinearWeightsAs(dev.tessera.runtime.DType.F32);
            rounded = m.forward(bytes).logits().toFloatArray();
            sampled = ByteSampler.generate(m, prompts.stream().map(p -> p.getBytes(StandardCharsets.UTF_8)).toList(),
                    new ByteSampler.Settings(30, 0.8, 0.95), new Generator(5));
        }
        assertFalse(java.util.Arrays.equals(exact, rounded), "rounding the weights changes the logits");
        for (String[] source : List.of(new String[] {"--checkpoint", checkpoint.toString()},
                new String[] {"--config", config.toString(), "--weights", weights.toString()})) {
            List<String> score = new java.util.ArrayList<>(List.of("score"));
            score.addAll(List.of(source));
            score.addAll(List.of("--text", text, "--out", out.toString(), "--weights-dtype", "bf16"));
            TesseraCliTest.succeed(score.toArray(String[]::new));
            try (Scope s = Scope.open()) {
                assertArrayEquals(rounded, SafeTensors.read(out).get("logits").toFloatArray(), String.join(" ", source));
            }
            List<String> generate = new java.util.ArrayList<>(List.of("generate"));
            generate.addAll(List.of(source));
            generate.addAll(List.of("--prompt", prompts.get(0), "--prompt", prompts.get(1), "--max-bytes", "30", "--seed", "5", "--weights-dtype", "BF16"));
            TesseraCliTest.Result r = TesseraCliTest.succeed(generate.toArray(String[]::new));
            for (int i = 0; i < prompts.size(); i++) {
                String block = "--- [" + (i + 1) + "]\n" + prompts.get(i) + new String(sampled.get(i), StandardCharsets.UTF_8) + "\n";
                assertTrue(r.out().contains(block), "expected\n" + block + "in\n" + r.out());
            }
        }
        Path corpus = dir.resolve("eval-dtype.txt");
        Files.writeString(corpus, "Now is the winter of our discontent made glorious summer by this sun of York. ".repeat(40));
        double roundedBpb;
        try (HNetByteModel m = model(); ByteCorpus c = CorpusSource.open(corpus.toString())) {
            m.module().storeLinearWeightsAs(dev.tessera.runtime.DType.BF16).storeLinearWeightsAs(dev.tessera.runtime.DType.F32);
            roundedBpb = HeldOutEvaluation.run(m, c, 0.1, 64, 4, 8).bitsPerByte();
        }
        TesseraCliTest.Result e = TesseraCliTest.succeed("eval", "--checkpoint", checkpoint.toString(), "--data", corpus.toString(), "--seq-len", "64",
                "--windows", "4", "--weights-dtype", "bf16");
        assertTrue(e.out().contains(String.format(Locale.ROOT, "bits per byte %.4f%n", roundedBpb)), e.out());
        assertTrue(e.out().contains("(step 0), linear weights in BF16"), e.out());
        TesseraCliTest.Result bad = TesseraCliTest.tessera("eval", "--checkpoint", checkpoint.toString(), "--weights-dtype", "fp8");
        assertEquals(2, bad.exit(), bad.err());
        assertTrue(bad.err().contains("expected F32 or BF16, got 'fp8'"), bad.err());
    }

    private static long[] bytesOf(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        long[] in = new long[b.length];
        for (int i = 0; i < b.length; i++) in[i] = b[i] & 0xFF;
        return in;
    }

    @Test
    void generateSamplesWhatTheModelSamples() {
        List<String> prompts = List.of("To be", "Ham");
        List<byte[]> expected;
        try (HNetByteModel m = model()) {
            expected = ByteSampler.generate(m, prompts.stream().map(p -> p.getBytes(StandardCharsets.UTF_8)).toList(),
                    new ByteSampler.Settings(30, 0.8, 0.95), new Generator(5));
        }
        TesseraCliTest.Result r = TesseraCliTest.succeed(withWeights("generate", "--prompt", prompts.get(0), "--prompt", prompts.get(1),
                "--max-bytes", "30", "--seed", "5"));
        for (int i = 0; i < prompts.size(); i++) {
            String block = "--- [" + (i + 1) + "]\n" + prompts.get(i) + new String(expected.get(i), StandardCharsets.UTF_8) + "\n";
            assertTrue(r.out().contains(block), "expected\n" + block + "in\n" + r.out());
        }
        // a preset's name serves as the config
        TesseraCliTest.Result byName = TesseraCliTest.succeed("generate", "--config", "hnet-tiny", "--weights", weights.toString(),
                "--prompt", prompts.get(0), "--prompt", prompts.get(1), "--max-bytes", "30", "--seed", "5");
        assertEquals(r.out(), byName.out());
    }

    @Test
    void evalMeasuresTheModelOnTheCorpus() throws Exception {
        Path corpus = dir.resolve("corpus.txt");
        Files.writeString(corpus, "Now is the winter of our discontent made glorious summer by this sun of York. ".repeat(40));
        double expected;
        try (HNetByteModel m = model(); ByteCorpus c = CorpusSource.open(corpus.toString())) {
            expected = HeldOutEvaluation.run(m, c, 0.1, 64, 4, 8).bitsPerByte();
        }
        TesseraCliTest.Result r = TesseraCliTest.succeed(withWeights("eval", "--data", corpus.toString(), "--seq-len", "64", "--windows", "4"));
        assertTrue(r.out().contains(String.format(Locale.ROOT, "bits per byte %.4f%n", expected)), r.out());
        assertTrue(r.out().contains("weights " + weights), r.out());
        assertFalse(r.out().contains("step"), "weights from elsewhere have no training step: " + r.out());
    }

    @Test
    void chunksDrawsTheModelsBoundaries() {
        String text = "Good morrow, neighbour Baptista.";
        String expected;
        try (HNetByteModel m = model()) {
            expected = BoundaryMarks.of(m, text.getBytes(StandardCharsets.UTF_8)).render(0);
        }
        TesseraCliTest.Result r = TesseraCliTest.succeed(withWeights("chunks", "--text", text, "--out", dir.resolve("chunks.png").toString()));
        assertTrue(r.out().contains("stage 0: " + expected + "\n"), r.out());
    }

    @Test
    void trainStartsFromTheWeights() throws Exception {
        Path corpus = dir.resolve("train.txt"), run = dir.resolve("finetune");
        Files.writeString(corpus, "Now is the winter of our discontent made glorious summer by this sun of York. ".repeat(40));
        // a learning rate so small that one step leaves the weights where they started, to well below their scale
        TesseraCliTest.Result r = TesseraCliTest.succeed("train", "--model", "hnet-tiny", "--weights", weights.toString(), "--data", corpus.toString(),
                "--steps", "1", "--batch", "2", "--seq-len", "32", "--lr", "1e-9", "--eval-windows", "2", "--quiet-summary", "--out", run.toString());
        assertTrue(r.out().contains("from " + weights), r.out());
        try (Scope s = Scope.open()) {
            Path last = CheckpointFiles.latest(run).orElseThrow();
            Map<String, Tensor> start = SafeTensors.read(weights), after = SafeTensors.read(last);
            try (SafeTensors.Reader reader = SafeTensors.open(last)) {
                assertEquals(weights.toString(), reader.metadata().get("train.init_weights"));
            }
            double largest = 0;
            for (var e : start.entrySet()) {
                float[] a = e.getValue().toFloatArray(), b = after.get(e.getKey()).toFloatArray();
                for (int i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
            }
            assertTrue(largest < 1e-6, "the run started from the weights: largest change " + largest);
        }
        TesseraCliTest.Result both = TesseraCliTest.tessera("train", "--weights", weights.toString(), "--resume", "--out", run.toString());
        assertEquals(2, both.exit(), both.err());
        assertTrue(both.err().contains("--weights starts a run"), both.err());
        TesseraCliTest.Result other = TesseraCliTest.tessera("train", "--model", "hnet-2stage-tiny", "--weights", weights.toString(), "--data",
                corpus.toString(), "--steps", "1", "--out", dir.resolve("mismatch").toString());
        assertNotEquals(0, other.exit());
        assertTrue(other.err().contains("does not match the model hnet-2stage-tiny"), other.err());
    }

    @Test
    void incompleteOrConflictingSourcesAreRefused() {
        Path wrong = dir.resolve("wrong.json");
        try {
            Files.writeString(wrong, HNetConfig.preset("hnet-2stage-tiny").toJson());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        TesseraCliTest.Result r = TesseraCliTest.tessera("generate", "--config", wrong.toString(), "--weights", weights.toString());
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("does not match the model " + wrong), r.err());
        r = TesseraCliTest.tessera("eval", "--config", config.toString());
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("--weights"), r.err());
        r = TesseraCliTest.tessera("chunks", "--checkpoint", weights.toString(), "--config", config.toString(), "--weights", weights.toString(),
                "--text", "x");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("mutually exclusive"), r.err());
        r = TesseraCliTest.tessera("generate");
        assertEquals(2, r.exit(), r.err());
        assertTrue(r.err().contains("--checkpoint") && r.err().contains("--config"), r.err());
    }
}
