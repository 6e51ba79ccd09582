package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.TesseraException;

/** Library probing, which must work (and explain itself) on machines without a GPU. */
class CudaProbeTest {
    @Test
    void aMissingDriverIsOneClearLine() {
        CudaProbe.Result r = CudaProbe.run(null, "libcuda-does-not-exist.so.1");
        assertFalse(r.available());
        assertTrue(r.reason().contains("libcuda-does-not-exist.so.1 not found"), r.reason());
        assertFalse(r.reason().contains("\n"));
    }

    @Test
    void tesseraCudaOffDisablesCuda() {
        CudaProbe.Result r = CudaProbe.run("off", "libcuda.so.1");
        assertFalse(r.available());
        assertEquals("CUDA disabled by TESSERA_CUDA=off", r.reason());
    }

    @Test
    void unavailableCudaFailsAtFirstUseAndTheCpuKeepsWorking() {
        CudaProbe.Result r = CudaProbe.result();
        if (r.available()) return; // covered by the gpu suite on CUDA machines
        try (Tensor x = Tensor.ones(2, 3)) {
            // ordinals no test opens (cuda:0 may be the CUDA emulator, cuda:7 a dry run)
            TesseraException e = assertThrows(TesseraException.class, () -> x.to(Device.cuda(3)));
            assertEquals("cuda:3 is not available: " + r.reason(), e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
            TesseraException e2 = assertThrows(TesseraException.class, () -> CudaDevice.get(4));
            assertTrue(e2.getMessage().startsWith("cuda:4 is not available"), e2.getMessage());
            assertEquals(6.0, x.sum().item(), 0.0);
        }
    }

    @Test
    void cublasCandidatesPutTheExplicitFileFirstThenVersionsNewestFirst() {
        List<String> c = Cublas.candidates("/opt/x/libcublas.so.13", List.of(Path.of("/definitely/not/here")));
        assertEquals(List.of("/opt/x/libcublas.so.13", "libcublas.so.13", "libcublas.so.12", "libcublas.so"), c);
    }

    @Test
    void aMissingCublasSaysWhatWasTriedAndHowToPointAtIt() {
        Cublas.Probe p = Cublas.find(List.of("/nonexistent/libcublas.so.13", "libcublas-nope.so.99"));
        assertFalse(p.available());
        assertNull(p.path());
        assertNotNull(p.reason());
        assertTrue(p.reason().contains("/nonexistent/libcublas.so.13, libcublas-nope.so.99"), p.reason());
        assertTrue(p.reason().contains("TESSERA_CUBLAS"), p.reason());
    }

    @Test
    void cublasStatusCodesHaveNames() {
        assertTrue(Cublas.statusName(7).startsWith("CUBLAS_STATUS_INVALID_VALUE"), Cublas.statusName(7));
        assertTrue(Cublas.statusName(13).startsWith("CUBLAS_STATUS_EXECUTION_FAILED"));
        TesseraException e = assertThrows(TesseraException.class, () -> Cublas.check("cublasCreate_v2", 3));
        assertTrue(e.getMessage().contains("cublasCreate_v2 failed: CUBLAS_STATUS_ALLOC_FAILED"), e.getMessage());
    }

    @Test
    void driverErrorsNameTheCallAndTheCode() {
        TesseraException e = CudaErrors.failure("cuMemAlloc", 2);
        assertTrue(e.getMessage().contains("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
        assertTrue(CudaErrors.failure("load", 222).getMessage().contains("update the NVIDIA driver"));
    }
}
