package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;

/** Comparisons of a CUDA result with the CPU's, for the gpu-tagged tests. */
final class CudaExpect {
    private CudaExpect() {}

    static final Device CUDA = Device.cuda(0), CPU = Device.cpu();

    /** A copy of a CPU tensor on cuda:0, as a fresh leaf (gradients, when asked, land on the GPU copy). */
    static Tensor gpu(Tensor cpu, boolean grad) {
        Tensor g = cpu.detach().to(CUDA);
        return grad ? g.requiresGrad(true) : g;
    }

    /** Same shape and dtype, values within {@code tol} relative to max(1, |cpu|); the GPU tensor must live on cuda. */
    static void close(String what, Tensor cpu, Tensor gpu, double tol) {
        assertEquals(CUDA, gpu.device(), what + ": result not on the GPU");
        assertArrayEquals(cpu.shape(), gpu.shape(), what + ": shape");
        assertEquals(cpu.dtype(), gpu.dtype(), what + ": dtype");
        double[] a = cpu.toDoubleArray(), b = gpu.to(CPU).toDoubleArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], tol * Math.max(1, Math.abs(a[i])), what + ": element " + i);
        }
    }

    /** Bit-identical values (as doubles; same dtype and shape). */
    static void exact(String what, Tensor cpu, Tensor gpu) { close(what, cpu, gpu, 0); }
}
