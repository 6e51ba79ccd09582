package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.nn.AdamW;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * A JVM serving several requests at once: threads sampling from one model, or training models of their own, get
 * exactly what they get one at a time. The CPU pool serves one parallel call at a time and runs another thread's
 * chunks on that thread in the same order, scopes and gradient modes are per thread, and the allocator is shared.
 */
class ConcurrentUseTest {
    private static final int THREADS = 4;

    @Test
    void threadsSamplingFromOneModelGetWhatTheyGetOneAtATime() throws Exception {
        String[] prompts = {"the quick", "brown fox ", "jumps", "over the lazy dog"};
        ByteSampler.Settings settings = new ByteSampler.Settings(40, 0.9, 0.95);
        try (ByteLanguageModel model = ModelCatalog.create("hnet-tiny", new Generator(5))) {
            List<byte[]> alone = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) alone.add(sample(model, prompts[i], settings, i));
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                List<Future<byte[]>> together = new ArrayList<>();
                for (int round = 0; round < 3; round++) {
                    for (int i = 0; i < prompts.length; i++) {
                        int k = i;
                        together.add(pool.submit(() -> sample(model, prompts[k], settings, k)));
                    }
                }
                for (int j = 0; j < together.size(); j++) {
                    assertArrayEquals(alone.get(j % prompts.length), together.get(j).get(), "prompt " + (j % prompts.length));
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static byte[] sample(ByteLanguageModel model, String prompt, ByteSampler.Settings settings, int seed) {
        return ByteSampler.generate(model, List.of(prompt.getBytes(StandardCharsets.UTF_8)), settings, new Generator(100 + seed)).get(0);
    }

    @Test
    void threadsTrainingModelsOfTheirOwnGetTheSameLosses() throws Exception {
        String[] presets = {"hnet-tiny", "mamba-tiny", "transformer-tiny", "hnet-2stage-tiny"};
        List<double[]> alone = new ArrayList<>();
        for (String preset : presets) alone.add(train(preset));
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<double[]>> together = new ArrayList<>();
            for (String preset : presets) together.add(pool.submit(() -> train(preset)));
            for (int i = 0; i < presets.length; i++) assertArrayEquals(alone.get(i), together.get(i).get(), presets[i]);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Four AdamW steps on fixed windows; the losses. */
    private static double[] train(String preset) {
        String text = "the quick brown fox jumps over the lazy dog and runs far away ";
        long[] bytes = new long[4 * 65];
        for (int i = 0; i < bytes.length; i++) bytes[i] = text.charAt((i * 7) % text.length());
        double[] losses = new double[4];
        try (ByteLanguageModel model = ModelCatalog.create(preset, new Generator(9));
             AdamW opt = new AdamW(model.parameterGroups(), 3e-3, 0.1)) {
            for (int step = 0; step < losses.length; step++) {
                try (Scope s = Scope.open()) {
                    Tensor all = Tensor.of(bytes, 4, 65);
                    ByteLanguageModel.TrainingLoss loss = model.loss(all.narrow(1, 0, 64), all.narrow(1, 1, 64));
                    loss.total().backward();
                    opt.step();
                    opt.zeroGrad();
                    losses[step] = loss.total().item();
                }
            }
        }
        assertEquals(4, losses.length);
        return losses;
    }
}
