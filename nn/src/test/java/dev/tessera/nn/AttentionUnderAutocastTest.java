package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.testing.DryRunDevices;
import dev.tessera.runtime.Autocast;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Mixed precision casts attention's inputs to BF16 only for the GPU's tensor-core kernel. The launches of one forward
 * and backward of a layer under {@link Autocast} on a dry-run device (cuda:7: kernels checked against their PTX
 * signatures, nothing computed) show which kernels ran and how many casts the layer made.
 */
class AttentionUnderAutocastTest {
    private static final int DEVICE = 7;

    /** Kernels launched by one forward and backward of a 4-head attention layer of width {@code dim} under autocast. */
    private static List<String> launches(int dim, int window) {
        org.junit.jupiter.api.Assumptions.assumeFalse(dev.tessera.runtime.RuntimeInfo.kernelsDescription().startsWith("none"),
                "no PTX in this build (no nvcc): the dry run checks launches against it");
        DryRunDevices.install(DEVICE);
        Device cuda = Device.cuda(DEVICE);
        try (CausalSelfAttention layer = new CausalSelfAttention(dim, 4, 8, window, new Generator(3));
             Scope s = Scope.open()) {
            layer.to(cuda);
            Tensor x = Tensor.randn(new Generator(4), 2, 40, dim).to(cuda).requiresGrad(true);
            DryRunDevices.clearLaunches(DEVICE);
            try (Autocast a = Autocast.bf16()) {
                layer.forward(x, null).sum().backward();
            }
            return List.copyOf(DryRunDevices.launchLog(DEVICE));
        }
    }

    private static long count(List<String> log, String prefix) {
        return log.stream().filter(k -> k.startsWith(prefix)).count();
    }

    @Test
    void aHeadDimTheTensorCoresDoNotTakeRunsInF32WithoutCasts() {
        List<String> small = launches(96, -1), big = launches(256, -1); // head dims 24 and 64
        assertTrue(small.contains("fa_forward_f32") && small.contains("fa_backward_f32"), "head dim 24 attends in F32: " + small);
        assertTrue(small.stream().noneMatch(k -> k.startsWith("fa_") && k.endsWith("_bf16")), "no BF16 attention kernel: " + small);
        assertTrue(big.contains("fa_forward_mma64_bf16") && big.contains("fa_backward_bf16"), "head dim 64 takes the tensor cores: " + big);
        // q, k, v cast to BF16 and the output back to F32, the output's gradient to BF16 and dq, dk, dv back: 8 casts
        assertEquals(count(big, "copy_strided") - 8, count(small, "copy_strided"), "casts: " + small + " / " + big);
    }

    @Test
    void aWindowKeepsAttentionInF32() {
        List<String> windowed = launches(256, 15); // the tensor-core kernel has no window
        assertTrue(windowed.contains("fa_forward_f32"), "a windowed layer attends in F32: " + windowed);
        assertTrue(windowed.stream().noneMatch(k -> k.startsWith("fa_") && k.endsWith("_bf16")), "no BF16 attention kernel: " + windowed);
    }
}
