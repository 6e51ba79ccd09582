package dev.tessera.kernels.scan;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kernels.CudaTests;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA scan reads x, dt, Bm, Cm and z where they lie when they are slices of one projection, and its backward
 * writes dx, d dt, dBm, dCm and dz into their parts of the projection's gradient: the same bits as on contiguous
 * copies, in every dtype, and five copies fewer in the backward.
 */
@Tag("gpu")
class RowStridedCudaInputsTest {
    private Device gpu;

    @BeforeEach
    void needsGpu() { gpu = CudaTests.assumeGpu(); }

    @Test
    void sliceOfALeafInEveryDtype() {
        for (DType t : new DType[] {DType.F32, DType.F64, DType.BF16}) {
            RowStridedInputsTest.check(new ScanFixture(41, 2, 70, 4, 3, 2, 5).all(), false, gpu, t);
        }
    }

    @Test
    void perStateDecaysAndPackedSequences() {
        RowStridedInputsTest.check(new ScanFixture(42, 2, 9, 3, 1, 3, 4).all().mamba1A(), false, gpu, DType.F32);
        RowStridedInputsTest.check(new ScanFixture(43, 1, 20, 4, 2, 1, 3).all().packed(0, 7, 7, 20), false, gpu, DType.F32);
        RowStridedInputsTest.check(new ScanFixture(44, 3, 1, 2, 4, 1, 3).all(), false, gpu, DType.F32);
    }

    @Test
    void gradientsAreWrittenIntoTheProjectionsGradient() {
        for (ScanFixture f : new ScanFixture[] {new ScanFixture(45, 2, 70, 4, 3, 2, 5).all(), new ScanFixture(46, 1, 40, 6, 2, 3, 4).all().packed(0, 9, 40)}) {
            long copied;
            try {
                ScanProblem.writeGradientsInPlace = false;
                copied = RowStridedInputsTest.check(f, true, gpu, DType.F32);
            } finally {
                ScanProblem.writeGradientsInPlace = true;
            }
            long copies = RowStridedInputsTest.check(f, true, gpu, DType.F32);
            assertEquals(5, copied - copies, "copies saved: dx's, d dt's, dBm's, dCm's and dz's");
        }
    }
}
