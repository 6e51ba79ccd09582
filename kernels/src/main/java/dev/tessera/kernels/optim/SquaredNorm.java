package dev.tessera.kernels.optim;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.util.Arrays;
import java.util.List;

/**
 * Σ over a list of tensors of Σ x², accumulated in F64: the squared global norm that gradient clipping needs. On a
 * GPU the whole list costs one launch per tensor, one to finish and one read-back (the same sum from runtime ops costs
 * about four launches per tensor). Deterministic: fixed blocks of elements are summed in a fixed order on both
 * devices, so the same tensors give the same bits every time.
 */
public final class SquaredNorm {
    private SquaredNorm() {}

    /**
     * Σ x² over {@code tensors}, all floating and on one device.
     *
     * @throws IllegalArgumentException naming the offending tensor otherwise
     */
    public static double of(List<Tensor> tensors) {
        if (tensors.isEmpty()) return 0;
        Device device = tensors.get(0).device();
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (!t.dtype().isFloating() || !t.device().equals(device)) {
                throw new IllegalArgumentException("squared_norm: tensor " + i + " is " + t.dtype() + " " + Arrays.toString(t.shape()) + " on "
                        + t.device() + "; every tensor must be floating and on " + device);
            }
        }
        long profiled = KernelSupport.profileStart();
        double sum = device.isCpu() ? SquaredNormCpu.sum(tensors) : SquaredNormCuda.sum(tensors);
        KernelSupport.profileStop("squared_norm", profiled);
        return sum;
    }
}
