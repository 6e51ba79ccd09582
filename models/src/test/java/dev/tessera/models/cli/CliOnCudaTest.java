package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.tessera.kernels.testing.GpuOrEmulator;

/**
 * The command line on cuda:0 (a GPU, or where there is none the CUDA emulator, which runs the same CUDA kernels on the
 * CPU) gives what it gives on the CPU: the same training losses and held-out bits per byte step by step, the same
 * evaluation, scores and chunk boundaries of a checkpoint, and the same sampled bytes for the same seed. F32
 * products, so that the two devices differ only in summation order.
 */
@Tag("gpu")
class CliOnCudaTest {
    @TempDir
    static Path dir;

    private static TesseraCliTest.Result run(String... args) { return TesseraCliTest.succeed(args); }

    private static List<double[]> metrics(Path runDir, String kind) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<double[]> out = new ArrayList<>();
        for (String line : Files.readAllLines(runDir.resolve("metrics.jsonl"))) {
            var rec = json.readTree(line);
            if (rec.path("kind").asText().equals(kind)) {
                out.add(new double[] {rec.path("step").asDouble(), kind.equals("train") ? rec.path("loss").asDouble() : rec.path("bpb").asDouble(),
                    rec.path("bytes_per_chunk_0").asDouble(Double.NaN)});
            }
        }
        return out;
    }

    private static double number(String text, String label) {
        Matcher m = Pattern.compile(Pattern.quote(label) + "\\s*[:=]?\\s*(-?[0-9.]+)").matcher(text);
        assertTrue(m.find(), "'" + label + "' in: " + text);
        return Double.parseDouble(m.group(1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"hnet-tiny", "hnet-2stage-tiny", "transformer-tiny"})
    void trainEvalScoreAndGenerateOnCudaFollowTheCpu(String model) throws IOException {
        String why = GpuOrEmulator.unavailableReason();
        Assumptions.assumeTrue(why == null, () -> "needs an NVIDIA GPU or the CUDA emulator: " + why);
        Path corpus = dir.resolve("words.txt");
        Files.writeString(corpus, "the quick brown fox jumps over the lazy dog; a lazy fox sleeps.\n".repeat(40));
        Path cpu = dir.resolve(model + "-cpu"), gpu = dir.resolve(model + "-cuda");
        for (Path out : List.of(cpu, gpu)) {
            run("train", "--model", model, "--device", out == cpu ? "cpu" : "cuda:0", "--precision", "fp32", "--data", corpus.toString(),
                    "--steps", "3", "--batch", "2", "--seq-len", "32", "--eval-every", "3", "--eval-windows", "2", "--seed", "4",
                    "--out", out.toString());
        }
        List<double[]> trainCpu = metrics(cpu, "train"), trainGpu = metrics(gpu, "train");
        assertEquals(3, trainCpu.size());
        assertEquals(trainCpu.size(), trainGpu.size());
        for (int i = 0; i < trainCpu.size(); i++) {
            assertEquals(trainCpu.get(i)[1], trainGpu.get(i)[1], 2e-4 * Math.abs(trainCpu.get(i)[1]), model + " loss at step " + (i + 1));
            // the boundaries, hence the chunk counts, are decided by thresholds: equal unless a probability sits on one
            if (model.startsWith("hnet")) assertEquals(trainCpu.get(i)[2], trainGpu.get(i)[2], 1e-9, model + " bytes per chunk at step " + (i + 1));
        }
        double evalCpu = metrics(cpu, "eval").getLast()[1], evalGpu = metrics(gpu, "eval").getLast()[1];
        assertEquals(evalCpu, evalGpu, 1e-3, model + " held-out bits per byte");

        String checkpoint = cpu.resolve("checkpoint-000003.safetensors").toString();
        double[] evals = new double[2], scores = new double[2];
        String[] samples = new String[2], chunks = new String[2];
        for (int d = 0; d < 2; d++) {
            String device = d == 0 ? "cpu" : "cuda:0";
            evals[d] = number(run("eval", "--checkpoint", checkpoint, "--device", device, "--precision", "fp32", "--data", corpus.toString(),
                    "--windows", "2").out(), "bits per byte");
            scores[d] = number(run("score", "--checkpoint", checkpoint, "--device", device, "--text", "the lazy dog sleeps",
                    "--out", dir.resolve(model + "-score-" + d + ".safetensors").toString()).out(), "bits per byte");
            samples[d] = run("generate", "--checkpoint", checkpoint, "--device", device, "--prompt", "the qu", "--seed", "9",
                    "--max-bytes", "12").out();
            if (model.startsWith("hnet")) {
                String marked = run("chunks", "--checkpoint", checkpoint, "--device", device, "--text", "a lazy fox sleeps over the dog",
                        "--out", dir.resolve(model + "-chunks-" + d + ".png").toString()).out();
                chunks[d] = marked.lines().filter(l -> l.startsWith("stage ") || l.startsWith("bytes per chunk")).toList().toString();
            }
        }
        assertEquals(chunks[0], chunks[1], model + ": the same boundaries on either device");
        assertEquals(evals[0], evals[1], 1e-3, model + " eval of one checkpoint");
        assertEquals(scores[0], scores[1], 1e-3, model + " score of one checkpoint");
        assertEquals(samples[0], samples[1], model + ": the same seed samples the same bytes on either device");
    }
}
