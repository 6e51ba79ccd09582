package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CudaRandom against the CPU's draws from a Generator with the same seed and offset: uniform and randint bit for bit,
 * normal within one float ulp per element (CUDA's double log/sin/cos may differ from Java's in the last bit).
 */
@Tag("gpu")
class CudaRandomTest {
    private static final long[] SEEDS = {0, 42, 0x7e55e4aL, 0xDEADBEEF_12345678L, -1};
    private static final int[] SIZES = {1, 3, 4, 5, 1003, 1 << 16};

    private static DeviceOperand vector(DeviceBuffer b, DType dt, int n) { return new DeviceOperand(b.address(), dt, new int[] {n}, new long[] {1}); }

    private static float[] cpuUniform(long seed, long offset, int n) {
        Generator g = new Generator(seed);
        g.setOffset(offset);
        return Tensor.rand(g, n).toFloatArray();
    }

    @Test
    void uniformIsBitIdentical() {
        Gpu.assumeAvailable();
        CudaDevice d = CudaDevice.get(0);
        for (long seed : SEEDS) {
            for (int n : SIZES) {
                for (long offset : new long[] {0, 7, 1L << 33}) {
                    float[] want = cpuUniform(seed, offset, n);
                    float[] got = new float[n];
                    double[] got64 = new double[n];
                    try (DeviceBuffer b = d.temporary(4L * n); DeviceBuffer b64 = d.temporary(8L * n)) {
                        CudaRandom.uniform(d, vector(b, DType.F32, n), seed, offset);
                        CudaRandom.uniform(d, vector(b64, DType.F64, n), seed, offset);
                        d.copyToHost(b.address(), MemorySegment.ofArray(got), 0, 4L * n);
                        d.copyToHost(b64.address(), MemorySegment.ofArray(got64), 0, 8L * n);
                    }
                    assertArrayEquals(want, got, "uniform F32 seed " + seed + " n " + n + " offset " + offset);
                    for (int i = 0; i < n; i++) assertEquals(want[i], got64[i], 0, "uniform F64 element " + i);
                }
            }
        }
    }

    @Test
    void normalWithinOneUlp() {
        Gpu.assumeAvailable();
        CudaDevice d = CudaDevice.get(0);
        for (long seed : SEEDS) {
            for (int n : SIZES) {
                Generator g = new Generator(seed);
                g.setOffset(5);
                float[] want = Tensor.randn(g, n).toFloatArray();
                float[] got = new float[n];
                try (DeviceBuffer b = d.temporary(4L * n)) {
                    CudaRandom.normal(d, vector(b, DType.F32, n), seed, 5);
                    d.copyToHost(b.address(), MemorySegment.ofArray(got), 0, 4L * n);
                }
                int same = 0;
                for (int i = 0; i < n; i++) {
                    assertEquals(want[i], got[i], Math.ulp(want[i]), "normal seed " + seed + " element " + i);
                    if (want[i] == got[i]) same++;
                }
                assertTrue(same >= n * 0.99, "normal: only " + same + " of " + n + " elements bit-identical");
            }
        }
    }

    @Test
    void randintIsBitIdentical() {
        Gpu.assumeAvailable();
        CudaDevice d = CudaDevice.get(0);
        long[][] ranges = {{0, 10}, {-5, 7}, {0, 1}, {-1000, Long.MAX_VALUE}, {Long.MIN_VALUE, Long.MAX_VALUE}, {3, 1L << 40}};
        for (long seed : SEEDS) {
            for (int n : SIZES) {
                for (long[] r : ranges) {
                    Generator g = new Generator(seed);
                    g.setOffset(11);
                    long[] want = Tensor.randint(g, r[0], r[1], n).toLongArray();
                    long[] got = new long[n];
                    try (DeviceBuffer b = d.temporary(8L * n)) {
                        CudaRandom.randint(d, vector(b, DType.I64, n), seed, 11, r[0], r[1]);
                        d.copyToHost(b.address(), MemorySegment.ofArray(got), 0, 8L * n);
                    }
                    assertArrayEquals(want, got, "randint seed " + seed + " n " + n + " range [" + r[0] + ", " + r[1] + ")");
                }
            }
        }
    }
}
