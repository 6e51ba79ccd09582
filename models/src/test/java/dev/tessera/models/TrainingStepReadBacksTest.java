package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.testing.DryRunDevices;
import dev.tessera.nn.AdamW;
import dev.tessera.nn.GradClip;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.RuntimeInfo;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * How often a training step waits for the GPU: every copy from the device to the host does, and the device then idles
 * while the host prepares the next launches. Counted on the dry-run device. An H-Net's forward reads once per stage
 * what sizes its chunked sequences, the chunk counts, which then serve the dechunk's checks, a nested stage's padding
 * and the bytes per chunk on the host (it read 3 and 8 times for one and two stages before); the backward and AdamW
 * read nothing; clipping reads the global
 * norm once (it read one sum per parameter before, 58 waits a step for hnet-tiny). Uploads through pinned staging
 * wait too: a step uploads its batch, and the backward nothing (the embedding's and a nested routing's backward
 * reuse what their forward uploaded: they uploaded it again before), and the rotary tables and full-length attention masks are not uploaded per
 * layer (they were: 15 uploads a step for transformer-tiny, now 3). AdamW launches one fused kernel per 48 parameters
 * (one per parameter before, and about fourteen composed ones per parameter before that), and the global norm one per
 * 64 gradients plus one (one per gradient before, about four per gradient before that), uploading nothing.
 */
class TrainingStepReadBacksTest {
    @ParameterizedTest
    @CsvSource({"hnet-tiny, 1, 2", "hnet-2stage-tiny, 2, 3", "transformer-tiny, 0, 2", "mamba-tiny, 0, 2"})
    void aTrainingStepWaitsForTheDeviceOnlyWhereItMust(String preset, int readBacks, int uploads) {
        Assumptions.assumeFalse(RuntimeInfo.kernelsDescription().startsWith("none"), "no PTX in this build (no nvcc)");
        DryRunDevices.install(7);
        try (ByteLanguageModel m = ModelCatalog.create(preset, new Generator(1)).onDevice(Device.cuda(7));
             Optimizer opt = new AdamW(m.parameterGroups(), 1e-3, 0.1)) {
            for (int step = 0; step < 2; step++) { // the second step finds what the first one cached (rotary tables)
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randint(new Generator(2), 0, 256, 4, 64), y = Tensor.randint(new Generator(3), 0, 256, 4, 64);
                    long r0 = DryRunDevices.readBacks(7), u0 = DryRunDevices.uploads(7);
                    ByteLanguageModel.TrainingLoss loss = m.loss(x, y);
                    long r1 = DryRunDevices.readBacks(7), u1 = DryRunDevices.uploads(7);
                    loss.total().backward();
                    long r2 = DryRunDevices.readBacks(7), u2 = DryRunDevices.uploads(7);
                    int beforeClip = DryRunDevices.launchLog(7).size();
                    GradClip.clipByGlobalNorm(m.module().parameters(), 1.0);
                    int launched = DryRunDevices.launchLog(7).size(), clip = launched - beforeClip;
                    opt.step();
                    int adamw = DryRunDevices.launchLog(7).size() - launched;
                    opt.zeroGrad();
                    long r3 = DryRunDevices.readBacks(7), u3 = DryRunDevices.uploads(7);
                    if (step == 0) continue;
                    assertEquals(readBacks, r1 - r0, preset + " forward read-backs");
                    assertEquals(0, r2 - r1, preset + " backward reads nothing back");
                    assertEquals(1, r3 - r2, preset + " clipping reads the global norm once; AdamW nothing");
                    // The bytes and targets of the batch go up in the forward, the embedding's indices grouped by row
                    // once, for its backward too (as a nested stage's routing flags are).
                    assertEquals(uploads, u1 - u0, preset + " forward uploads");
                    assertEquals(0, u2 - u1, preset + " backward uploads nothing");
                    assertEquals(0, u3 - u2, preset + " clipping and AdamW upload nothing");
                    int params = m.module().parameters().size();
                    assertEquals((params + 47) / 48, adamw, preset + " AdamW launches one fused step per 48 parameters");
                    // the norm, at least: one partial sum per 64 gradients and one to finish (the dry run's norm is 0: no scaling)
                    assertEquals((params + 63) / 64 + 1, clip, preset + " clipping's launches");
                }
            }
        }
    }
}
