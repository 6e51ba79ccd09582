package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.nn.AdamW;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Native memory is released deterministically: a model built, trained for a step, decoded from and closed gives back
 * every byte it took, with no help from the garbage collector (whose cleaner would hide a forgotten tensor by freeing
 * it some time later). Mamba-2's initialisation once left the random draws of its step sizes and decays to the GC. A
 * failure lists where the storages still alive were allocated.
 */
class ModelMemoryTest {
    @ParameterizedTest
    @ValueSource(strings = {"hnet-tiny", "hnet-tiny-whitespace", "hnet-2stage-tiny", "transformer-tiny", "mamba-tiny"})
    void aModelGivesBackEveryByteWhenClosed(String preset) {
        long before = MemoryStats.cpuLiveBytes();
        MemoryStats.trackAllocations(true);
        try (ByteLanguageModel model = ModelCatalog.create(preset, new Generator(3));
             AdamW opt = new AdamW(model.parameterGroups(), 1e-3, 0.1)) {
            long[] bytes = new long[2 * 33];
            for (int i = 0; i < bytes.length; i++) bytes[i] = "the quick brown fox jumps over the lazy dog ".charAt(i % 44);
            try (Scope s = Scope.open()) {
                Tensor all = Tensor.of(bytes, 2, 33);
                model.loss(all.narrow(1, 0, 32), all.narrow(1, 1, 32)).total().backward();
                opt.step();
                opt.zeroGrad();
            }
            try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open(); ByteLanguageModel.Decoder dec = model.newDecoder(2, 8)) {
                for (int t = 0; t < 4; t++) dec.step(Tensor.of(new long[] {116, 104}, 2));
            }
        }
        String sites = MemoryStats.liveAllocationReport();
        MemoryStats.trackAllocations(false);
        assertEquals(before, MemoryStats.cpuLiveBytes(), preset + ": native bytes still held after close; " + sites);
    }
}
