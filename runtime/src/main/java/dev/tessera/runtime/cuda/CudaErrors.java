package dev.tessera.runtime.cuda;

import dev.tessera.runtime.TesseraException;
import jcuda.driver.CUresult;

/** Turns driver result codes into exceptions that name the call and the error. */
final class CudaErrors {
    static final int CUDA_SUCCESS = 0, CUDA_ERROR_OUT_OF_MEMORY = 2, CUDA_ERROR_NO_DEVICE = 100,
            CUDA_ERROR_INVALID_PTX = 218, CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222, CUDA_ERROR_NO_BINARY_FOR_GPU = 209;

    private CudaErrors() {}

    static String name(int rc) {
        String s = CUresult.stringFor(rc);
        return s == null || s.startsWith("INVALID") ? "CUresult " + rc : s + " (" + rc + ")";
    }

    static TesseraException failure(String what, int rc) {
        String hint = switch (rc) {
            case CUDA_ERROR_UNSUPPORTED_PTX_VERSION -> ": the PTX was built by a newer nvcc than this driver supports; update the NVIDIA driver";
            case CUDA_ERROR_NO_BINARY_FOR_GPU -> ": no PTX for this GPU's architecture in the jar";
            default -> "";
        };
        return new TesseraException("CUDA " + what + " failed: " + name(rc) + hint);
    }

    static void check(String what, int rc) {
        if (rc != CUDA_SUCCESS) throw failure(what, rc);
    }
}
