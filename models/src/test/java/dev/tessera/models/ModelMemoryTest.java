package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.testing.DryRunDevices;
import dev.tessera.nn.AdamW;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.RuntimeInfo;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Assumptions;
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
        stepDecodeAndClose(preset, Device.cpu());
        String sites = MemoryStats.liveAllocationReport();
        MemoryStats.trackAllocations(false);
        assertEquals(before, MemoryStats.cpuLiveBytes(), preset + ": native bytes still held after close; " + sites);
    }

    /**
     * The same on a CUDA device, the dry run (launches checked, not run: the numbers mean nothing, the allocations are
     * the real ones): every device byte returns to the allocator's cache when the model and its decoder close.
     */
    @ParameterizedTest
    @ValueSource(strings = {"hnet-tiny", "hnet-2stage-tiny", "transformer-tiny", "mamba-tiny"})
    void aModelOnACudaDeviceGivesBackEveryDeviceByteWhenClosed(String preset) {
        Assumptions.assumeFalse(RuntimeInfo.kernelsDescription().startsWith("none"), "no PTX in this build (no nvcc)");
        DryRunDevices.install(7);
        long before = RuntimeInfo.memory(Device.cuda(7)).allocatedBytes();
        MemoryStats.trackAllocations(true);
        stepDecodeAndClose(preset, Device.cuda(7));
        String sites = MemoryStats.liveAllocationReport();
        MemoryStats.trackAllocations(false);
        assertEquals(before, RuntimeInfo.memory(Device.cuda(7)).allocatedBytes(), preset + ": device bytes still held after close; " + sites);
    }

    /** Builds the preset on {@code device}, trains it one step, decodes four bytes for two rows, and closes it all. */
    private static void stepDecodeAndClose(String preset, Device device) {
        try (ByteLanguageModel model = ModelCatalog.create(preset, new Generator(3)).onDevice(device);
             AdamW opt = new AdamW(model.parameterGroups(), 1e-3, 0.1)) {
            long[] bytes = new long[2 * 33];
            for (int i = 0; i < bytes.length; i++) bytes[i] = "the quick brown fox jumps over the lazy dog ".charAt(i % 44);
            try (Scope s = Scope.open()) {
                // inputs and targets uploaded as they are: on the dry run no kernel runs, so a view sliced there would
                // hold whatever its memory held
                Tensor all = Tensor.of(bytes, 2, 33);
                Tensor in = all.narrow(1, 0, 32).contiguous().to(device), target = all.narrow(1, 1, 32).contiguous().to(device);
                model.loss(in, target).total().backward();
                opt.step();
                opt.zeroGrad();
            }
            try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open(); ByteLanguageModel.Decoder dec = model.newDecoder(2, 8)) {
                for (int t = 0; t < 4; t++) dec.step(Tensor.of(new long[] {116, 104}, 2).to(device));
            }
        }
    }
}
