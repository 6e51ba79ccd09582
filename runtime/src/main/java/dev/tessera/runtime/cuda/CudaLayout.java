package dev.tessera.runtime.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;

import dev.tessera.runtime.DType;

/**
 * Encodes a view's shape and strides as the kernels' {@code TsLayout} struct (native/cuda/runtime/tessera.cuh):
 * {@code int ndim; int pad; long long shape[8]; long long stride[8];}. Dimensions that are contiguous with
 * their neighbour, or of size 1, are merged first so that most views need few divisions per element.
 */
public final class CudaLayout {
    /** TS_MAX_DIMS in tessera.cuh. */
    public static final int MAX_DIMS = 8;
    /** sizeof(TsLayout). */
    public static final int BYTES = 8 + 16 * MAX_DIMS;

    private CudaLayout() {}

    /** The struct bytes for the given shape and strides (which must have the same length). */
    public static byte[] encode(int[] shape, long[] strides) {
        int[] rank = new int[1];
        long[] merged = merge(shape, strides, rank);
        int n = rank[0];
        if (n > MAX_DIMS) {
            throw new IllegalArgumentException("CUDA kernels walk at most " + MAX_DIMS + " dimensions after merging, this view needs " + n
                    + " (shape " + java.util.Arrays.toString(shape) + ", strides " + java.util.Arrays.toString(strides) + "); make it contiguous first");
        }
        ByteBuffer b = ByteBuffer.allocate(BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, n);
        for (int d = 0; d < n; d++) {
            b.putLong(8 + 8 * d, merged[2 * d]);
            b.putLong(8 + 8 * MAX_DIMS + 8 * d, merged[2 * d + 1]);
        }
        return b.array();
    }

    /** The operand's layout. */
    public static byte[] encode(DeviceOperand o) { return encode(o.shape(), o.strides()); }

    /**
     * Drops size-1 dims and merges dim d into d+1 when stride[d] == shape[d+1]·stride[d+1]. Returns
     * interleaved (shape, stride) pairs, outermost first; {@code rank[0]} receives the count (at least 1).
     */
    static long[] merge(int[] shape, long[] strides, int[] rank) {
        if (shape.length != strides.length) throw new IllegalArgumentException("shape and strides differ in rank");
        long[] out = new long[2 * Math.max(1, shape.length)];
        int n = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (n > 0 && out[2 * (n - 1) + 1] == (long) shape[d] * strides[d]) {
                out[2 * (n - 1)] *= shape[d];
                out[2 * (n - 1) + 1] = strides[d];
            } else {
                out[2 * n] = shape[d];
                out[2 * n + 1] = strides[d];
                n++;
            }
        }
        if (n == 0) {
            out[0] = 1;
            out[1] = 1;
            n = 1;
        }
        rank[0] = n;
        return out;
    }

    /** The kernel-name suffix of a dtype. */
    public static String suffix(DType t) { return t.name().toLowerCase(Locale.ROOT); }
}
