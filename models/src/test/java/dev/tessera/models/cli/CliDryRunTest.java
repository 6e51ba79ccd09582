package dev.tessera.models.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.testing.DryRunDevices;
import dev.tessera.runtime.RuntimeInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every subcommand with {@code --device cuda:7}, on a machine without a GPU: the dry-run device checks each launch and
 * cuBLAS call instead of running it, so this proves the command line's CUDA path is wired end to end — batches,
 * loss, gradient clipping, the optimizer, held-out evaluation, checkpoints saved from and resumed onto the device,
 * sampling, scoring and chunk marks, for learned, nested and whitespace-routed H-Nets and both baselines, with each
 * --precision of the products (auto means bf16 on a GPU). Values are
 * meaningless: memory no kernel wrote reads 0, except the chunk counts, which the routing kernels' host stand-ins
 * fill in (see DryRunDevices) so that inner stages see chunks.
 */
class CliDryRunTest {
    @TempDir
    static Path dir;

    private static TesseraCliTest.Result run(String... args) { return TesseraCliTest.succeed(args); }

    @ParameterizedTest
    @ValueSource(strings = {"hnet-tiny", "hnet-2stage-tiny tf32", "hnet-tiny-whitespace fp32", "transformer-tiny", "mamba-tiny bf16"})
    void everySubcommandRunsOnACudaDevice(String modelAndPrecision) throws IOException {
        String model = modelAndPrecision.split(" ")[0], precision = modelAndPrecision.contains(" ") ? modelAndPrecision.split(" ")[1] : "auto";
        Assumptions.assumeFalse(RuntimeInfo.kernelsDescription().startsWith("none"), "no PTX in this build (no nvcc)");
        var dry = DryRunDevices.install(7);
        DryRunDevices.clearLaunches(7);
        Path corpus = dir.resolve("words.txt");
        Files.writeString(corpus, "the quick brown fox jumps over the lazy dog\n".repeat(60));
        Path out = dir.resolve(model);
        List<String> train = List.of("train", "--model", model, "--device", "cuda:7", "--data", corpus.toString(),
                "--batch", "2", "--seq-len", "32", "--eval-every", "2", "--save-every", "2", "--eval-windows", "2", "--out", out.toString());
        TesseraCliTest.Result t = run(concat(train, "--steps", "4", "--stop-after", "2", "--precision", precision));
        String products = precision.equals("auto") ? "bf16" : precision; // auto is bf16 on a GPU
        assertTrue(t.out().contains("on cuda:7 (" + products + " products)"), t.out());
        // a dry run computes no values, so an H-Net's chunks are not counted and nor is its compute; a baseline's needs none
        boolean routed = model.startsWith("hnet");
        assertTrue(t.out().contains(routed ? "forward compute unknown: no bytes per chunk were measured" : "forward compute 0."), t.out());
        TesseraCliTest.Result resumed = run("train", "--resume", "--out", out.toString(), "--device", "cuda:7", "--precision", precision);
        assertTrue(resumed.out().contains("resuming " + model + " from step 2"), resumed.out());
        boolean hnet = model.startsWith("hnet");
        assertTrue(resumed.out().contains("sample:") && (!hnet || resumed.out().contains("stage 0: ")), "the closing summary: " + resumed.out());
        String checkpoint = out.resolve("checkpoint-000004.safetensors").toString();
        assertTrue(run("eval", "--checkpoint", checkpoint, "--device", "cuda:7", "--data", corpus.toString(), "--windows", "2",
                "--precision", precision).out().contains("bits per byte"));
        run("generate", "--checkpoint", checkpoint, "--device", "cuda:7", "--prompt", "the", "--prompt", "fox j", "--max-bytes", "6");
        run("score", "--checkpoint", checkpoint, "--device", "cuda:7", "--text", "the lazy dog", "--out", dir.resolve("s.safetensors").toString());
        if (hnet) run("chunks", "--checkpoint", checkpoint, "--device", "cuda:7", "--text", "the lazy dog", "--out", dir.resolve("c.png").toString());
        List<String> kernels = dry.get();
        String gemm = "cublasGemmStridedBatchedEx" + (products.equals("fp32") ? "" : " " + products);
        assertTrue(kernels.contains(gemm), "the products went through cuBLAS as " + gemm + ": " + kernels);
        List<String> expected = new java.util.ArrayList<>(List.of("cross_entropy_backward"));
        if (!model.startsWith("transformer")) expected.add("ss_");
        if (!model.startsWith("mamba")) expected.addAll(List.of("fa_", "rotary_"));
        if (hnet) expected.addAll(List.of("chunk_scan", "dechunk_bwd"));
        if (model.equals("hnet-tiny")) expected.add("route_backward");
        for (String prefix : expected) assertTrue(kernels.stream().anyMatch(k -> k.startsWith(prefix)), prefix + "* ran on the device: " + kernels);
        if (!model.startsWith("mamba")) {
            // BF16 autocast casts attention's inputs only for the tensor-core kernel (head dims 48, 64, 96, 128; see
            // gpuSizedShapesTrainAndSampleOnACudaDevice): the tiny models' heads of 24 and 16 attend in F32 at any precision
            assertTrue(kernels.stream().anyMatch(k -> k.startsWith("fa_backward_") && k.endsWith("f32")), "attention in f32: " + kernels);
            assertTrue(kernels.stream().noneMatch(k -> k.startsWith("fa_") && k.endsWith("bf16")), "no BF16 attention kernel: " + kernels);
        }
    }

    /**
     * GPU-sized shapes at a GPU-sized batch take launch configurations the tiny models never do, and the dry run
     * refuses any a GPU would refuse (too many threads, registers or shared memory for a block, grid limits):
     * {@code hnet-small} itself (state size 64, SSM heads of 64, attention heads of 48 on the BF16 tensor-core path,
     * thousands of positions), and {@code hnet-1stage-L}'s per-layer shapes (state size 128, attention heads of 96) in
     * a model of two layers, as the preset itself would need 10 GB of host memory to train here.
     */
    @ParameterizedTest
    @ValueSource(strings = {"hnet-small auto", "hnet-small fp32", "1stage-L-shapes auto"})
    void gpuSizedShapesTrainAndSampleOnACudaDevice(String modelAndPrecision) throws IOException {
        Assumptions.assumeFalse(RuntimeInfo.kernelsDescription().startsWith("none"), "no PTX in this build (no nvcc)");
        String name = modelAndPrecision.split(" ")[0], precision = modelAndPrecision.split(" ")[1];
        String model = name;
        if (name.equals("1stage-L-shapes")) {
            Path config = dir.resolve("1stage-L-shapes.json");
            Files.writeString(config, """
                    {"arch_layout": ["m1", ["T1"], "m1"], "d_model": [256, 384], "d_intermediate": [0, 1024], "vocab_size": 256,
                     "ssm_cfg": {"chunk_size": 256, "d_conv": 4, "d_state": 128, "expand": 2},
                     "attn_cfg": {"num_heads": [4, 4], "rotary_emb_dim": [32, 48], "window_size": [1023, -1]}, "tie_embeddings": false}""");
            model = config.toString();
        }
        var dry = DryRunDevices.install(7, 6); // chunks of 6 bytes: the main network sees sequences of 342 chunks
        DryRunDevices.clearLaunches(7);
        try {
            Path corpus = dir.resolve("long.txt");
            Files.writeString(corpus, "the quick brown fox jumps over the lazy dog\n".repeat(1000));
            Path out = dir.resolve(name + "-" + precision);
            run("train", "--model", model, "--device", "cuda:7", "--precision", precision, "--data", corpus.toString(), "--steps", "2",
                    "--batch", "4", "--seq-len", "2048", "--eval-every", "2", "--eval-windows", "2", "--out", out.toString());
            String checkpoint = out.resolve("checkpoint-000002.safetensors").toString();
            run("generate", "--checkpoint", checkpoint, "--device", "cuda:7", "--prompt", "the", "--prompt", "fox j", "--max-bytes", "4");
        } finally {
            DryRunDevices.install(7); // back to one chunk per sequence for the other tests
        }
        List<String> kernels = dry.get();
        for (String prefix : List.of("ss_", "fa_backward_", "chunk_scan", "dechunk_bwd", "route_backward", "fa_decode_")) {
            assertTrue(kernels.stream().anyMatch(k -> k.startsWith(prefix)), prefix + "* ran on the device: " + kernels);
        }
        if (precision.equals("auto")) {
            String mma = name.equals("hnet-small") ? "fa_forward_mma48_bf16" : "fa_forward_mma96_bf16";
            assertTrue(kernels.contains(mma), "the tensor-core forward " + mma + ": " + kernels);
        }
    }

    private static String[] concat(List<String> head, String... tail) {
        return java.util.stream.Stream.concat(head.stream(), java.util.Arrays.stream(tail)).toArray(String[]::new);
    }
}
