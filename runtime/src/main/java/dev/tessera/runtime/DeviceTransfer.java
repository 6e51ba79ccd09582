package dev.tessera.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import dev.tessera.runtime.cuda.CudaDevice;

/**
 * Moves tensors between the host and CUDA devices. A move is differentiable: the gradient goes back to the
 * source device. Non-contiguous views are made contiguous on their own device first, so only dense bytes cross
 * the bus.
 */
final class DeviceTransfer {
    private DeviceTransfer() {}

    static Tensor to(Tensor x, Device target) {
        x.checkAlive("to(" + target + ")");
        Device source = x.device();
        if (source.equals(target)) return Views.identity(x);
        Tensor out;
        try (Grad.Region g = Grad.noGrad()) {
            out = copyAcross(x, target);
        }
        if (!x.dtype.isFloating()) return out;
        return Autograd.record("to_" + target, out, new Tensor[] {x}, new Tensor[0], (grad, s) -> new Tensor[] {grad.to(source)});
    }

    /** A contiguous copy of {@code x} on {@code target}, recorded nowhere. */
    static Tensor copyAcross(Tensor x, Device target) {
        Tensor dense = x.isContiguous() ? x : ShapeOps.copyOf(x, x.dtype);
        try {
            long bytes = dense.numel() * dense.dtype.byteSize();
            long srcByte = dense.offset * dense.dtype.byteSize();
            Tensor out = Tensor.allocate(dense.dtype, dense.shape, target);
            if (bytes == 0) return out;
            if (dense.device().isCpu()) {
                CudaDevice d = CudaDevice.get(target.index());
                d.copyToDevice(dense.segment(), srcByte, out.storage.deviceAddress(), bytes);
            } else if (target.isCpu()) {
                CudaDevice d = CudaDevice.get(dense.device().index());
                d.copyToHost(dense.storage.deviceAddress() + srcByte, out.segment(), 0, bytes);
            } else {
                // Between two GPUs through the host: peer access is not set up, and this path is rare.
                try (Tensor host = copyAcross(dense, Device.cpu())) {
                    CudaDevice d = CudaDevice.get(target.index());
                    d.copyToDevice(host.segment(), 0, out.storage.deviceAddress(), bytes);
                }
            }
            return out;
        } finally {
            if (dense != x) dense.close();
        }
    }

    /** Reads one element of a CUDA tensor at element offset {@code elementOffset} of its storage. */
    static double readElement(Tensor t, long elementOffset) {
        CudaDevice d = CudaDevice.get(t.device().index());
        int size = t.dtype.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(8, 8);
            d.copyToHost(t.storage.deviceAddress() + elementOffset * size, one, 0, size);
            return dev.tessera.runtime.cpu.Elements.get(one, t.dtype, 0);
        }
    }
}
