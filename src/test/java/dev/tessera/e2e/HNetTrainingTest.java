package dev.tessera.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.models.hnet.HNet;
import dev.tessera.models.hnet.HNetConfig;
import dev.tessera.models.hnet.HNetLM;
import dev.tessera.nn.AdamW;
import dev.tessera.nn.ByteCorpus;
import dev.tessera.nn.GradClip;
import dev.tessera.nn.LrSchedule;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The whole stack at once: runtime, fused kernels, nn and the H-Net model learn Tiny Shakespeare (from the shared
 * data folder) for a few dozen steps; held-out bits per byte fall, memory stays flat, and decoding works.
 */
class HNetTrainingTest {
    private static double heldOutBitsPerByte(HNetLM m, ByteCorpus c) {
        double sum = 0;
        int n = 0;
        try (Grad.Region g = Grad.noGrad()) {
            for (long[] w : c.evaluationWindows(ByteCorpus.Split.HELD_OUT, 0.1, 64, 8)) {
                try (Scope s = Scope.open()) {
                    Tensor all = ByteCorpus.bytesToTensor(c.slice(w[0], (int) w[1]));
                    Tensor x = all.narrow(0, 0, 64).reshape(1, 64), y = all.narrow(0, 1, 64).reshape(1, 64);
                    sum += m.loss(x, y).crossEntropy().item();
                    n++;
                }
            }
        }
        return sum / n / Math.log(2);
    }

    @Test
    void hnetLearnsTinyShakespeare() {
        Path data = SharedData.file("tinyshakespeare.txt");
        assumeTrue(data != null, "../shared/data/tinyshakespeare.txt is absent: skipping the end-to-end training test");
        try (ByteCorpus corpus = ByteCorpus.ofFile(data); HNetLM m = new HNetLM(HNetConfig.preset("hnet-tiny"), new Generator(1))) {
            double before = heldOutBitsPerByte(m, corpus);
            AdamW opt = new AdamW(m.parameterGroups(HNetLM.lrMultipliers(m.config())), 3e-3, 0.01);
            LrSchedule lr = LrSchedule.warmupStableDecay(3e-3, 60, 0.1, 0.2);
            Generator dataGen = new Generator(2);
            long live10 = 0;
            for (int step = 0; step < 60; step++) {
                try (Scope s = Scope.open()) {
                    opt.setLearningRate(lr.at(step));
                    ByteCorpus.Batch b = corpus.sample(dataGen, ByteCorpus.Split.TRAIN, 0.1, 4, 64);
                    m.loss(b.inputs(), b.targets()).total().backward();
                    GradClip.clipByGlobalNorm(m.parameters(), 1.0);
                    opt.step();
                    opt.zeroGrad();
                }
                if (step == 10) live10 = MemoryStats.cpuLiveBytes();
            }
            assertEquals(live10, MemoryStats.cpuLiveBytes(), "training holds flat native memory");
            double after = heldOutBitsPerByte(m, corpus);
            assertTrue(after < before - 1.0, "held-out bits per byte fell by more than 1: " + before + " → " + after);
            // decode a few bytes with the step form, two prompts at once
            try (Scope s = Scope.open(); HNet.StageState st = m.newDecodeState(2, 32)) {
                Tensor logits = null;
                for (byte ch : "ROMEO".getBytes()) logits = m.step(Tensor.of(new long[] {ch & 0xFF, 'T'}, 2), st);
                assertEquals(2, logits.size(0));
                assertTrue(Double.isFinite(logits.sum().item()));
            }
            opt.close();
        }
    }
}
