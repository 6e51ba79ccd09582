package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.nn.SafeTensors;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera score}: the hook for comparing Tessera with other implementations on the same weights. It scores
 * exactly the given bytes — no BOS is added, so another implementation fed the same L bytes must agree — and
 * writes a safetensors file with {@code logits} [L, 256] F32 (position t predicts byte t+1), {@code logprobs}
 * [L−1] F32 (log-probability of byte t+1 given bytes 0..t; the first byte has no prediction and no entry) and
 * {@code boundary_prob.<stage>} [L_s] F32 per routing stage; it prints the bits per byte of those L−1 predictions.
 */
@Command(name = "score", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Write logits, next-byte log-probabilities and boundary probabilities of a text to safetensors.")
final class ScoreCommand implements Callable<Integer> {
    /** A tessera checkpoint, or a model config with weights from elsewhere (the hook for comparing implementations). */
    @ArgGroup(exclusive = true, multiplicity = "1")
    ModelSource source;

    @picocli.CommandLine.Mixin
    WeightsStorage storage;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", description = "The text to score (UTF-8).") String text;
        @Option(names = "--file", description = "A file whose bytes to score.") Path file;
    }

    @Option(names = "--out", required = true, description = "The safetensors file to write.")
    Path out;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        byte[] bytes = input.text != null ? input.text.getBytes(StandardCharsets.UTF_8) : read(input.file);
        if (bytes.length < 2) throw new CliFailure("need at least 2 bytes to score (the first byte has no prediction), got " + bytes.length, 2);
        ModelSource.Opened opened = source.open(target, storage.dtype);
        double bpb;
        try (ByteLanguageModel m = opened.model(); Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            m.module().eval();
            long[] in = new long[bytes.length];
            for (int i = 0; i < bytes.length; i++) in[i] = bytes[i] & 0xFF;
            ByteLanguageModel.Prediction p = m.forward(Tensor.of(in, 1, in.length));
            Tensor logits = p.logits().select(0, 0).to(DType.F32).contiguous();
            float[] logSoftmax = logits.logSoftmax(1).toFloatArray();
            float[] lp = new float[bytes.length - 1];
            double nats = 0;
            for (int t = 0; t + 1 < bytes.length; t++) {
                lp[t] = logSoftmax[t * 256 + (bytes[t + 1] & 0xFF)];
                nats -= lp[t];
            }
            bpb = nats / lp.length / Math.log(2);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("logits", logits);
            tensors.put("logprobs", Tensor.of(lp, lp.length));
            for (int st = 0; st < p.boundaryProbs().size(); st++) {
                tensors.put("boundary_prob." + st, p.boundaryProbs().get(st).select(0, 0).to(DType.F32).contiguous());
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("checkpoint", opened.origin());
            meta.put("bos", "none");
            meta.put("bits_per_byte", Double.toString(bpb));
            SafeTensors.write(out, tensors, meta);
        }
        System.out.printf(Locale.ROOT, "scored %,d bytes (%,d predictions) -> %s%n", bytes.length, bytes.length - 1, out);
        System.out.printf(Locale.ROOT, "bits per byte %.4f%n", bpb);
        return 0;
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CliFailure("cannot read " + file + ": " + e.getMessage());
        }
    }
}
