package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ByteSampler;
import dev.tessera.runtime.Generator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera generate}: continues one or more prompts, all in one batch, from a checkpoint or a config with
 * weights from elsewhere. The model reads BOS and then the prompt's UTF-8 bytes (as in training and in the reference
 * implementation) and samples until {@code --max-bytes} or the end byte.
 */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sample continuations of prompts from a checkpoint or config and weights (batched).")
final class GenerateCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1")
    ModelSource source;

    @picocli.CommandLine.Mixin
    WeightsStorage storage;

    @Option(names = "--prompt", description = "A prompt (repeat for several; default: the empty prompt).")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--max-bytes", defaultValue = "200", description = "Bytes to generate per prompt (default: ${DEFAULT-VALUE}).")
    int maxBytes;

    @Option(names = "--temperature", defaultValue = "0.8", description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "0.95", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--profile", description = "Print the time per op of a decoding step (one byte for every prompt) at the end, "
            + "averaged over the steps after the first tenth.")
    boolean profile;

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        ByteSampler.Settings settings = new ByteSampler.Settings(maxBytes, temperature, topP);
        List<String> ps = prompts.isEmpty() ? List.of("") : prompts;
        StepProfile steps = profile ? new StepProfile("decoding steps", "the first tenth left out, and the sampling between steps") : null;
        ByteSampler.StepWatch watch = steps == null ? ByteSampler.StepWatch.NONE : new ByteSampler.StepWatch() {
            @Override public void beforeStep(long step, long maxSteps) { steps.beforeStep(step, (double) (step - 1) / Math.max(1, maxSteps), maxSteps); }

            @Override public void afterStep() { steps.afterStep(); }
        };
        try (ByteLanguageModel m = source.open(target, storage.dtype).model()) {
            List<byte[]> bytes = ps.stream().map(p -> p.getBytes(StandardCharsets.UTF_8)).toList();
            long t0 = System.nanoTime();
            List<byte[]> out;
            if (ps.size() == 1) { // one continuation: printed as it is sampled (raw bytes: the terminal decodes UTF-8)
                System.out.print(ps.get(0));
                System.out.flush();
                out = ByteSampler.generate(m, bytes, settings, new Generator(seed), (row, b) -> {
                    System.out.write(b);
                    System.out.flush();
                }, watch);
                System.out.println();
            } else { // several: each printed whole once all are done
                out = ByteSampler.generate(m, bytes, settings, new Generator(seed), (row, b) -> {}, watch);
                for (int i = 0; i < ps.size(); i++) {
                    System.out.println("--- [" + (i + 1) + "]");
                    System.out.println(ps.get(i) + new String(out.get(i), StandardCharsets.UTF_8));
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            long total = out.stream().mapToLong(o -> o.length).sum();
            System.err.printf(Locale.ROOT, "%,d bytes in %.2f s (%,.0f bytes/s, %d row%s)%n", total, seconds, total / Math.max(seconds, 1e-9),
                    ps.size(), ps.size() == 1 ? "" : "s in one batch");
        }
        if (steps != null) System.out.print(steps.report());
        return 0;
    }
}
