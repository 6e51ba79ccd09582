package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stopping and resuming from a checkpoint continues the identical loss curve; long runs hold flat memory. */
class TrainingResumeTest {
    /** A tiny byte-level model: embedding → tanh MLP → 256 logits. */
    static final class TinyLm extends Module {
        final Embedding embed;
        final Linear hidden, head;

        TinyLm(Generator g) {
            embed = module("embed", new Embedding(256, 16, g));
            hidden = module("hidden", new Linear(16, 32, true, g));
            head = module("head", new Linear(32, 256, false, g));
        }

        Tensor loss(ByteCorpus.Batch b) {
            Tensor logits = head.forward(hidden.forward(embed.forward(b.inputs())).tanh());
            return Functional.crossEntropy(logits, b.targets());
        }
    }

    @TempDir
    Path dir;

    private static ByteCorpus corpus() {
        String text = "the quick brown fox jumps over the lazy dog. ".repeat(200);
        return ByteCorpus.ofBytes("fox", text.getBytes(StandardCharsets.UTF_8));
    }

    /** Trains steps [from, to) and returns the losses; saves a checkpoint at the end when {@code save} is set. */
    private static List<Double> train(TinyLm m, AdamW opt, Generator data, ByteCorpus c, long from, long to, Path save) {
        List<Double> losses = new ArrayList<>();
        LrSchedule lr = LrSchedule.warmupCosine(3e-3, 5, 40, 0.1);
        for (long step = from; step < to; step++) {
            try (Scope s = Scope.open()) {
                opt.setLearningRate(lr.at(step));
                Tensor loss = m.loss(c.sample(data, ByteCorpus.Split.TRAIN, 0.1, 4, 24));
                loss.backward();
                GradClip.clipByGlobalNorm(m.parameters(), 1.0);
                opt.step();
                opt.zeroGrad();
                losses.add(loss.item());
            }
        }
        if (save != null) TrainingCheckpoint.save(save, m, opt, to, Map.of("model", "tiny"), Map.of("data", data));
        return losses;
    }

    @Test
    void resumedRunRepeatsTheLossCurveExactly() {
        Path ckpt = dir.resolve("step20.safetensors");
        try (ByteCorpus c = corpus()) {
            List<Double> straight;
            try (TinyLm m = new TinyLm(new Generator(1))) {
                AdamW opt = new AdamW(Optimizer.allOf(m), 3e-3, 0.01);
                straight = train(m, opt, new Generator(5), c, 0, 40, null);
                opt.close();
            }
            List<Double> resumed = new ArrayList<>();
            try (TinyLm m = new TinyLm(new Generator(1))) {
                AdamW opt = new AdamW(Optimizer.allOf(m), 3e-3, 0.01);
                resumed.addAll(train(m, opt, new Generator(5), c, 0, 20, ckpt));
                opt.close();
            }
            try (TinyLm m = new TinyLm(new Generator(99))) { // different init: everything must come from the file
                AdamW opt = new AdamW(Optimizer.allOf(m), 3e-3, 0.01);
                Generator data = new Generator(5);
                TrainingCheckpoint.State st = TrainingCheckpoint.load(ckpt, m, opt, Map.of("data", data));
                assertEquals(20, st.step());
                assertEquals("tiny", st.get("model"));
                resumed.addAll(train(m, opt, data, c, st.step(), 40, null));
                opt.close();
            }
            assertEquals(straight, resumed, "bit-identical losses after resuming");
            assertTrue(straight.get(39) < straight.get(0), "it learns: " + straight.get(0) + " → " + straight.get(39));
        }
    }

    @Test
    void aCheckpointOfAnotherModelIsRefusedByName() {
        Path ckpt = dir.resolve("other.safetensors");
        try (Linear other = new Linear(3, 3, true, new Generator(1)); TinyLm m = new TinyLm(new Generator(1))) {
            TrainingCheckpoint.save(ckpt, other, null, 1, Map.of(), Map.of());
            CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(ckpt, m, null, Map.of()));
            assertTrue(e.getMessage().contains(ckpt.toString()) && e.getMessage().contains("embed.weight"), e.getMessage());
        }
    }

    @Test
    void fiveThousandStepsHoldFlatNativeMemory() {
        try (ByteCorpus c = corpus(); TinyLm m = new TinyLm(new Generator(3))) {
            AdamW opt = new AdamW(Optimizer.allOf(m), 1e-3, 0.0);
            Generator data = new Generator(4);
            long after100 = 0;
            for (int step = 0; step < 5000; step++) {
                try (Scope s = Scope.open()) {
                    Tensor loss = m.loss(c.sample(data, ByteCorpus.Split.TRAIN, 0.1, 2, 16));
                    loss.backward();
                    opt.step();
                    opt.zeroGrad();
                }
                if (step == 100) after100 = MemoryStats.cpuLiveBytes();
            }
            assertEquals(after100, MemoryStats.cpuLiveBytes(), "live native memory after 5,000 steps equals that after 100");
            opt.close();
        }
    }
}
