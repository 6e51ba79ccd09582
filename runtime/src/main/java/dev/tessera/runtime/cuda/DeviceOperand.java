package dev.tessera.runtime.cuda;

import dev.tessera.runtime.DType;

/**
 * A tensor as a CUDA kernel sees it: the device address of its element 0 (storage offset applied), its dtype,
 * shape and element strides. The GPU twin of the CPU kernels' operand.
 */
public record DeviceOperand(long address, DType dtype, int[] shape, long[] strides) {
    public long numel() {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    /** True when the elements are dense in row-major order. */
    public boolean isContiguous() {
        long expected = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && strides[d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    /** The kernel-name suffix of this operand's dtype: f32, f64, bf16, f16, i32, i64, u8, bool. */
    public String suffix() { return CudaLayout.suffix(dtype); }

    /** The dtype code the kernels' {@code TsDtype} enum uses. */
    public int dtypeCode() { return dtype.ordinal(); }
}
