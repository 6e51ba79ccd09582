package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.testing.DryRunDevices;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.RuntimeInfo;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Byte-by-byte decoding of an H-Net on a CUDA device, on a machine without a GPU: the dry-run device checks every
 * launch against its PTX signature instead of running it, so this proves the decoding path keeps every tensor and
 * every state on the model's device. (Values are meaningless. A learned router reads its boundaries back from memory
 * no kernel wrote, so only the whitespace rule's boundaries make the inner stage step here; HNetCudaTest checks the
 * values on a GPU.)
 */
class HNetDryRunTest {
    @Test
    void decodingKeepsEveryStateOnTheModelsDevice() {
        Assumptions.assumeFalse(RuntimeInfo.kernelsDescription().startsWith("none"), "no PTX in this build (no nvcc)");
        var dry = DryRunDevices.install(7);
        Device dev = Device.cuda(7);
        for (String preset : new String[] {"hnet-tiny", "hnet-tiny-whitespace"}) {
            try (HNetLM m = new HNetLM(HNetConfig.preset(preset), new Generator(1)); Scope s = Scope.open()) {
                m.to(dev);
                try (HNet.StageState st = m.newDecodeState(2, 8)) {
                    long[][] bytes = {{'a', 'b'}, {' ', 'c'}, {'d', ' '}, {'e', 'f'}};
                    for (long[] col : bytes) assertEquals(dev, m.step(Tensor.of(col, 2), st).device(), preset);
                }
            }
        }
        assertTrue(dry.get().stream().anyMatch(k -> k.startsWith("route_step")), "the router stepped on the device: " + dry.get());
        assertTrue(dry.get().stream().anyMatch(k -> k.startsWith("dechunk_step")), "dechunking stepped on the device: " + dry.get());
        assertTrue(dry.get().stream().anyMatch(k -> k.startsWith("fa_")), "the inner attention stepped on the device: " + dry.get());
    }
}
