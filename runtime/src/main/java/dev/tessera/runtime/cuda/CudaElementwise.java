package dev.tessera.runtime.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.cpu.BinaryOp;
import dev.tessera.runtime.cpu.Elements;
import dev.tessera.runtime.cpu.UnaryOp;

/**
 * Elementwise kernels on a CUDA device (native/cuda/runtime/elementwise.cu), with the CPU kernels' semantics
 * ({@link dev.tessera.runtime.cpu.Elementwise}). Every operand is viewed at {@code out}'s shape (broadcast dims
 * have stride 0); {@code out} may be the same view as an input (in-place ops), since each element is read and
 * then written by one thread.
 *
 * <p>Dense, 16-byte aligned operands of one float dtype take vectorised kernels ({@code unary_f32},
 * {@code binary_bf16}, {@code compare_f64}, ...). Everything else takes the strided kernels: the dims of all
 * operands are merged jointly (a dim folds into its outer neighbour only where it does so for every operand),
 * so each element costs one index decomposition, whatever the number of operands. They compute in double where
 * an operand is F64, I64 or I32 and in float otherwise; integer binary arithmetic and comparisons run exactly in
 * int64, and copies and {@code where} convert exactly, as on the CPU.
 */
public final class CudaElementwise {
    private static final String MODULE = "elementwise";
    private static final int BLOCK = 256;
    /** Grid size cap, in blocks per multiprocessor; the kernels loop over the rest. */
    private static final int BLOCKS_PER_SM = 32;

    private CudaElementwise() {}

    // ------------------------------------------------------------------------------------------------ public API

    /** Every element of {@code out} = {@code value}, rounded to out's dtype as {@code Elements.set} does. */
    public static void fill(CudaDevice d, DeviceOperand out, double value) {
        long n = out.numel();
        if (n == 0) return;
        int w = out.dtype().byteSize();
        long bits = bits(out.dtype(), value);
        if (bits == 0 && out.isContiguous()) {
            d.zero(out.address(), n * w);
            return;
        }
        Joint j = Joint.of(out.shape(), out.strides());
        long work = j.dense(0) ? ceilDiv(n, 16 / w) : n;
        d.kernel(MODULE, "fill_u" + 8 * w).grid(blocks(d, work)).block(BLOCK)
                .ptr(out.address()).i64(n).i64(bits).struct(j.layout(0)).launch();
    }

    /** {@code out = (out.dtype) x}: a copy, a broadcast or a cast; integers travel exactly. */
    public static void copy(CudaDevice d, DeviceOperand x, DeviceOperand out) {
        checkShapes("copy", out, x);
        long n = out.numel();
        if (n == 0) return;
        DType xt = x.dtype(), ot = out.dtype();
        if (xt == ot && x.address() == out.address() && Arrays.equals(x.strides(), out.strides())) return; // copy onto itself
        Joint j = Joint.of(out.shape(), x.strides(), out.strides());
        if (xt == ot && j.dense(0) && j.dense(1)) {
            d.copyDeviceToDevice(x.address(), out.address(), n * xt.byteSize());
            return;
        }
        if (xt == ot) {
            d.kernel(MODULE, "copy_u" + 8 * xt.byteSize()).grid(blocks(d, n)).block(BLOCK)
                    .ptr(x.address()).ptr(out.address()).i64(n).struct(j.layout(0)).struct(j.layout(1)).launch();
            return;
        }
        String fn = xt.isIntegral() && ot.isIntegral() ? "copy_strided_i64" : "copy_strided_f64";
        d.kernel(MODULE, fn).grid(blocks(d, n)).block(BLOCK)
                .ptr(x.address()).i32(x.dtypeCode()).ptr(out.address()).i32(out.dtypeCode()).i64(n)
                .struct(j.layout(0)).struct(j.layout(1)).launch();
    }

    /** {@code out = op(x; a, b)}, computed as {@link UnaryOp#apply} and rounded to out's dtype. */
    public static void unary(CudaDevice d, UnaryOp op, double a, double b, DeviceOperand x, DeviceOperand out) {
        checkShapes("unary " + op, out, x);
        long n = out.numel();
        if (n == 0) return;
        DType xt = x.dtype(), ot = out.dtype();
        Joint j = Joint.of(out.shape(), x.strides(), out.strides());
        if (xt == ot && xt.isFloating() && j.dense(0) && j.dense(1) && aligned16(x) && aligned16(out)) {
            d.kernel(MODULE, "unary_" + out.suffix()).grid(blocks(d, ceilDiv(n, 16 / ot.byteSize()))).block(BLOCK)
                    .ptr(x.address()).ptr(out.address()).i64(n).i32(op.ordinal()).f64(a).f64(b).launch();
            return;
        }
        String fn = needsDouble(xt) || needsDouble(ot) ? "unary_strided_f64" : "unary_strided_f32";
        d.kernel(MODULE, fn).grid(blocks(d, n)).block(BLOCK)
                .ptr(x.address()).i32(x.dtypeCode()).ptr(out.address()).i32(out.dtypeCode()).i64(n)
                .i32(op.ordinal()).f64(a).f64(b).struct(j.layout(0)).struct(j.layout(1)).launch();
    }

    /**
     * {@code dx = g · op'(x)} in one pass for the ops the CPU's {@code UnaryGrad} fuses (sigmoid and tanh read y =
     * op(x), SiLU and softplus read x; y may be x then), any strides (dx may be a slice of a wider gradient); all
     * four operands share one float dtype.
     */
    public static void unaryBackward(CudaDevice d, UnaryOp op, DeviceOperand x, DeviceOperand y, DeviceOperand g, DeviceOperand dx) {
        if (!dev.tessera.runtime.cpu.UnaryGrad.supports(op)) throw new IllegalArgumentException("unary_backward: no fused gradient for " + op);
        checkShapes("unary_backward " + op, dx, x, y, g);
        DType t = dx.dtype();
        if (!t.isFloating() || x.dtype() != t || y.dtype() != t || g.dtype() != t) {
            throw new IllegalArgumentException("unary_backward " + op + ": x, y, g and dx must share one float dtype, got "
                    + x.dtype() + ", " + y.dtype() + ", " + g.dtype() + ", " + t);
        }
        long n = dx.numel();
        if (n == 0) return;
        Joint j = Joint.of(dx.shape(), x.strides(), y.strides(), g.strides(), dx.strides());
        d.kernel(MODULE, needsDouble(t) ? "unary_backward_strided_f64" : "unary_backward_strided_f32").grid(blocks(d, n)).block(BLOCK)
                .ptr(x.address()).ptr(y.address()).ptr(g.address()).ptr(dx.address()).i32(dx.dtypeCode()).i64(n).i32(op.ordinal())
                .struct(j.layout(0)).struct(j.layout(1)).struct(j.layout(2)).struct(j.layout(3)).launch();
    }

    /** {@code out = op(x, y)}, as the CPU's {@code Elementwise.binary}: comparisons write 1/0 (out is normally BOOL). */
    public static void binary(CudaDevice d, BinaryOp op, DeviceOperand x, DeviceOperand y, DeviceOperand out) {
        checkShapes("binary " + op, out, x, y);
        long n = out.numel();
        if (n == 0) return;
        DType xt = x.dtype(), yt = y.dtype(), ot = out.dtype();
        boolean integral = DType.promote(xt, yt).isIntegral() && op != BinaryOp.DIV && op != BinaryOp.POW;
        Joint j = Joint.of(out.shape(), x.strides(), y.strides(), out.strides());
        if (!integral && xt == yt && xt.isFloating() && op != BinaryOp.POW && j.dense(2)) {
            boolean cmp = op.isComparison();
            // mode 0: both dense, 1: x a broadcast scalar, 2: y a broadcast scalar
            int mode = j.dense(0) && j.dense(1) ? 0 : j.scalar(0) && j.dense(1) ? 1 : j.dense(0) && j.scalar(1) ? 2 : -1;
            int vec = 16 / xt.byteSize();
            boolean aligned = (mode == 1 || aligned16(x)) && (mode == 2 || aligned16(y))
                    && (cmp ? out.address() % vec == 0 : aligned16(out));
            if (mode >= 0 && aligned && (cmp ? ot == DType.BOOL : ot == xt)) {
                d.kernel(MODULE, (cmp ? "compare_" : "binary_") + x.suffix()).grid(blocks(d, ceilDiv(n, vec))).block(BLOCK)
                        .ptr(x.address()).ptr(y.address()).ptr(out.address()).i64(n).i32(op.ordinal()).i32(mode).launch();
                return;
            }
        }
        String fn = integral ? "binary_strided_i64"
                : needsDouble(xt) || needsDouble(yt) || needsDouble(ot) ? "binary_strided_f64" : "binary_strided_f32";
        d.kernel(MODULE, fn).grid(blocks(d, n)).block(BLOCK)
                .ptr(x.address()).i32(x.dtypeCode()).ptr(y.address()).i32(y.dtypeCode()).ptr(out.address()).i32(out.dtypeCode())
                .i64(n).i32(op.ordinal()).struct(j.layout(0)).struct(j.layout(1)).struct(j.layout(2)).launch();
    }

    /** {@code out = cond ? x : y} elementwise (cond nonzero means true); values convert exactly to out's dtype. */
    public static void where(CudaDevice d, DeviceOperand cond, DeviceOperand x, DeviceOperand y, DeviceOperand out) {
        checkShapes("where", out, cond, x, y);
        long n = out.numel();
        if (n == 0) return;
        Joint j = Joint.of(out.shape(), cond.strides(), x.strides(), y.strides(), out.strides());
        String fn = out.dtype().isIntegral() ? "where_strided_i64" : "where_strided_f64";
        d.kernel(MODULE, fn).grid(blocks(d, n)).block(BLOCK)
                .ptr(cond.address()).i32(cond.dtypeCode()).ptr(x.address()).i32(x.dtypeCode())
                .ptr(y.address()).i32(y.dtypeCode()).ptr(out.address()).i32(out.dtypeCode()).i64(n)
                .struct(j.layout(0)).struct(j.layout(1)).struct(j.layout(2)).struct(j.layout(3)).launch();
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** The bits of {@code v} stored as one element of {@code t}, exactly as {@link Elements#set} rounds it. */
    static long bits(DType t, double v) {
        return switch (t) {
            case F32 -> Float.floatToRawIntBits((float) v) & 0xFFFFFFFFL;
            case F64 -> Double.doubleToRawLongBits(v);
            case BF16 -> Elements.floatToBf16((float) v) & 0xFFFFL;
            case F16 -> Float.floatToFloat16((float) v) & 0xFFFFL;
            case I32 -> ((int) v) & 0xFFFFFFFFL;
            case I64 -> (long) v;
            case U8 -> ((int) v) & 0xFFL;
            case BOOL -> v != 0 ? 1 : 0;
        };
    }

    /** Float compute would round these (I32 and I64 beyond 2^24, and F64 itself), so their kernels compute in double. */
    private static boolean needsDouble(DType t) { return t == DType.F64 || t == DType.I64 || t == DType.I32; }

    private static boolean aligned16(DeviceOperand o) { return (o.address() & 15) == 0; }

    private static long ceilDiv(long a, long b) { return (a + b - 1) / b; }

    /** Blocks of {@link #BLOCK} threads for {@code work} items (one per thread), capped; at least one. */
    static int blocks(CudaDevice d, long work) {
        long cap = (long) BLOCKS_PER_SM * Math.max(1, d.multiprocessorCount());
        return (int) Math.max(1, Math.min(ceilDiv(work, BLOCK), cap));
    }

    private static void checkShapes(String op, DeviceOperand out, DeviceOperand... in) {
        for (DeviceOperand o : in) {
            if (!Arrays.equals(o.shape(), out.shape()) || o.strides().length != o.shape().length) {
                throw new IllegalArgumentException("CUDA " + op + ": operand of shape " + Arrays.toString(o.shape()) + " (strides "
                        + Arrays.toString(o.strides()) + ") is not viewed at the output's shape " + Arrays.toString(out.shape()));
            }
        }
    }

    /**
     * The dims of several operands of one shape merged jointly: size-1 dims dropped, and dim d folded into the
     * kept dim before it when {@code stride[prev] == shape[d]·stride[d]} for every operand. All layouts then share
     * ndim and shape (the kernels decompose the index once, using the first layout's shape).
     */
    static final class Joint {
        final int ndim;
        final long[] shape;
        final long[][] strides;

        private Joint(int ndim, long[] shape, long[][] strides) {
            this.ndim = ndim;
            this.shape = shape;
            this.strides = strides;
        }

        static Joint of(int[] shape, long[]... operandStrides) {
            int k = operandStrides.length, r = shape.length;
            long[] sh = new long[Math.max(1, r)];
            long[][] st = new long[k][Math.max(1, r)];
            int n = 0;
            for (int d = 0; d < r; d++) {
                if (shape[d] == 1) continue;
                boolean fold = n > 0;
                for (int o = 0; o < k && fold; o++) fold = st[o][n - 1] == (long) shape[d] * operandStrides[o][d];
                if (fold) {
                    sh[n - 1] *= shape[d];
                    for (int o = 0; o < k; o++) st[o][n - 1] = operandStrides[o][d];
                } else {
                    sh[n] = shape[d];
                    for (int o = 0; o < k; o++) st[o][n] = operandStrides[o][d];
                    n++;
                }
            }
            if (n == 0) { // one element: any stride serves; 1 makes it dense
                sh[0] = 1;
                for (int o = 0; o < k; o++) st[o][0] = 1;
                n = 1;
            }
            if (n > CudaLayout.MAX_DIMS) {
                throw new IllegalArgumentException("CUDA elementwise kernels walk at most " + CudaLayout.MAX_DIMS + " dims after merging; shape "
                        + Arrays.toString(shape) + " with these strides needs " + n + "; make the operands contiguous first");
            }
            return new Joint(n, sh, st);
        }

        /** Operand o is dense in row-major order (one merged dim of stride 1). */
        boolean dense(int o) { return ndim == 1 && strides[o][0] == 1; }

        /** Operand o is one element broadcast everywhere (all strides 0). */
        boolean scalar(int o) {
            for (int dd = 0; dd < ndim; dd++) if (strides[o][dd] != 0) return false;
            return true;
        }

        /** Operand o's TsLayout bytes (tessera.cuh): ndim, pad, shape[MAX_DIMS], stride[MAX_DIMS]. */
        byte[] layout(int o) {
            ByteBuffer b = ByteBuffer.allocate(CudaLayout.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(0, ndim);
            for (int dd = 0; dd < ndim; dd++) {
                b.putLong(8 + 8 * dd, shape[dd]);
                b.putLong(8 + 8 * CudaLayout.MAX_DIMS + 8 * dd, strides[o][dd]);
            }
            return b.array();
        }
    }
}
