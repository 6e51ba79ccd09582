package dev.tessera.models.baseline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ModelCatalog;
import dev.tessera.nn.AdamW;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.RuntimeInfo;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * Training and decoding the byte-level baselines on a CUDA device, on a machine without a GPU: a dry-run device
 * checks every kernel launch and cuBLAS call against its PTX signature or cuBLAS's rules instead of running, so this
 * proves the CUDA path of the nn layer is wired end to end (every tensor on the right device, every launch
 * well-formed). CliDryRunTest does the same for every model through the command line (H-Nets included, whose chunk
 * counts come from host stand-ins of the routing kernels); HNetCudaTest checks values on a GPU. Values are
 * meaningless here.
 */
class BaselineDryRunTest {
    @Test
    void baselinesTrainAndDecodeOnADryRunDevice() {
        Assumptions.assumeFalse(RuntimeInfo.kernelsDescription().startsWith("none"), "no PTX in this build (no nvcc)");
        var dry = DryRun.install();
        Device dev = Device.cuda(7);
        for (String preset : new String[] {"transformer-tiny", "mamba-tiny"}) {
            try (ByteLanguageModel m = ModelCatalog.create(preset, new Generator(1)).onDevice(dev);
                 Optimizer opt = new AdamW(m.parameterGroups(), 1e-3, 0.1)) {
                assertEquals(dev, m.module().device(), preset);
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randint(new Generator(2), 0, 256, 2, 40), y = Tensor.randint(new Generator(3), 0, 256, 2, 40);
                    opt.zeroGrad();
                    m.loss(x, y).total().backward();
                    opt.step();
                }
                try (Scope s = Scope.open(); ByteLanguageModel.Decoder d = m.newDecoder(2, 8)) {
                    for (int t = 0; t < 4; t++) d.step(Tensor.of(new long[] {65 + t, 66 + t}, 2));
                }
            }
        }
        assertTrue(dry.get().contains("cublasGemmStridedBatchedEx"), "GEMMs went through cuBLAS: " + dry.get());
        assertTrue(dry.get().stream().anyMatch(k -> k.startsWith("ss_forward")), "the scan ran on the device: " + dry.get());
        assertTrue(dry.get().stream().anyMatch(k -> k.startsWith("fa_")), "attention ran on the device: " + dry.get());
    }
}
