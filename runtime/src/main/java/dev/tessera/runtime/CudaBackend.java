package dev.tessera.runtime;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.tessera.runtime.cpu.BinaryOp;
import dev.tessera.runtime.cpu.Conv1dKernel;
import dev.tessera.runtime.cpu.RowReduce;
import dev.tessera.runtime.cpu.UnaryOp;
import dev.tessera.runtime.cuda.CudaConv1d;
import dev.tessera.runtime.cuda.CudaCrossEntropy;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cuda.CudaElementwise;
import dev.tessera.runtime.cuda.CudaIndexing;
import dev.tessera.runtime.cuda.CudaMatmul;
import dev.tessera.runtime.cuda.CudaRows;
import dev.tessera.runtime.cuda.DeviceOperand;

/**
 * The CUDA backend: translates tensors into device operands for the kernels in {@code runtime.cuda}, the GPU twin
 * of {@link CpuBackend}. Everything is queued on the device's one stream; nothing here waits for the GPU except
 * where a result must come back to the host.
 */
final class CudaBackend implements Backend {
    private static final Map<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();

    private final CudaDevice device;

    private CudaBackend(CudaDevice device) { this.device = device; }

    static CudaBackend of(Device d) {
        CudaBackend b = BACKENDS.get(d.index());
        if (b != null) return b;
        return BACKENDS.computeIfAbsent(d.index(), i -> new CudaBackend(CudaDevice.get(i)));
    }

    private static DeviceOperand op(Tensor t) { return t == null ? null : t.deviceOperand(); }

    private static long address(Tensor t) { return t == null ? 0 : t.deviceOperand().address(); }

    @Override public void fill(Tensor out, double v) {
        long t0 = Profiler.start();
        CudaElementwise.fill(device, op(out), v);
        if (t0 != 0) Profiler.stop("fill", t0);
    }

    @Override public void copy(Tensor x, Tensor out) {
        long t0 = Profiler.start();
        CudaElementwise.copy(device, x.deviceOperandBroadcast(out.shape), op(out));
        if (t0 != 0) Profiler.stop("copy", t0);
    }

    @Override public void unary(UnaryOp f, double a, double b, Tensor x, Tensor out) {
        long t0 = Profiler.start();
        CudaElementwise.unary(device, f, a, b, x.deviceOperandBroadcast(out.shape), op(out));
        if (t0 != 0) Profiler.stop("unary." + f, t0);
    }

    @Override public boolean fusesUnaryBackward(UnaryOp op, DType dtype) {
        return dev.tessera.runtime.cpu.UnaryGrad.supports(op) && dtype.isFloating();
    }

    @Override public void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor g, Tensor dx) {
        long t0 = Profiler.start();
        CudaElementwise.unaryBackward(device, op, op(x), op(y == null ? x : y), op(g), op(dx));
        if (t0 != 0) Profiler.stop("unary_backward." + op, t0);
    }

    @Override public void binary(BinaryOp f, Tensor x, Tensor y, Tensor out) {
        long t0 = Profiler.start();
        CudaElementwise.binary(device, f, x.deviceOperandBroadcast(out.shape), y.deviceOperandBroadcast(out.shape), op(out));
        if (t0 != 0) Profiler.stop("binary." + f, t0);
    }

    @Override public void where(Tensor cond, Tensor x, Tensor y, Tensor out) {
        long t0 = Profiler.start();
        CudaElementwise.where(device, cond.deviceOperandBroadcast(out.shape), x.deviceOperandBroadcast(out.shape),
                y.deviceOperandBroadcast(out.shape), op(out));
        if (t0 != 0) Profiler.stop("where", t0);
    }

    @Override public void reduceRows(ReduceKind kind, Tensor x, int rows, int n, Tensor out) {
        long t0 = Profiler.start();
        CudaRows.reduceRows(device, RowReduce.Kind.valueOf(kind.name()), op(x), rows, n, op(out));
        if (t0 != 0) Profiler.stop("reduce." + kind, t0);
    }

    @Override public boolean sumLeading(Tensor x, int n, int cols, Tensor out) {
        if (!x.dtype.isFloating()) return false;
        long t0 = Profiler.start();
        CudaRows.sumLeading(device, op(x), n, cols, op(out));
        if (t0 != 0) Profiler.stop("reduce.SUM_leading", t0);
        return true;
    }

    @Override public void matmul(Tensor a, Tensor b, Tensor out) {
        long t0 = Profiler.start();
        Tensor.checkSameDtype("matmul", a, b);
        try (Scope s = Scope.open()) {
            // cuBLAS reads any view with a unit stride in one of its two inner dims; anything else is made dense first.
            Tensor ac = CudaMatmul.canRead(op(a)) ? a : ShapeOps.copyOf(a, a.dtype);
            Tensor bc = CudaMatmul.canRead(op(b)) ? b : ShapeOps.copyOf(b, b.dtype);
            CudaMatmul.matmul(device, op(ac), op(bc), op(out), Autocast.tf32Allowed());
        }
        if (t0 != 0) Profiler.stop("matmul", t0, Profiler.productFlops(out.shape[0], out.shape[1], out.shape[2], a.shape[2]));
    }

    /** A few rows against a BF16 W stored contiguous (b = Wᵀ): the warp-per-column kernel; more rows go to cuBLAS widened. */
    @Override public boolean matmulBf16Weight(Tensor a, Tensor b, Tensor out) {
        int rows = a.shape[0], k = a.shape[1], n = b.shape[1];
        if (rows < 1 || rows > CudaMatmul.BF16_WEIGHT_ROWS || k == 0 || (k > 1 && a.strides[1] != 1) || b.strides[0] != 1
                || (n > 1 && b.strides[1] != k)) {
            return false;
        }
        long t0 = Profiler.start();
        CudaMatmul.bf16WeightRows(device, op(a), rows == 1 ? k : a.strides[0], op(b), op(out), rows, n, k);
        if (t0 != 0) Profiler.stop("matmul", t0, Profiler.productFlops(1, rows, n, k));
        return true;
    }

    @Override public boolean hasFusedCrossEntropy() { return true; }

    @Override public void crossEntropy(Tensor x, Tensor targets, int rows, int c, long ignoreIndex, Tensor loss, Tensor lse) {
        long t0 = Profiler.start();
        CudaCrossEntropy.forward(device, op(x), address(targets), rows, c, ignoreIndex, op(loss), op(lse));
        if (t0 != 0) Profiler.stop("cross_entropy", t0);
    }

    @Override public void crossEntropyBackward(Tensor x, Tensor targets, Tensor lse, Tensor g, int rows, int c, long ignoreIndex, Tensor dx) {
        long t0 = Profiler.start();
        CudaCrossEntropy.backward(device, op(x), address(targets), op(lse), op(g), rows, c, ignoreIndex, op(dx));
        if (t0 != 0) Profiler.stop("cross_entropy_backward", t0);
    }

    @Override public void softmax(Tensor x, Tensor out, boolean log) {
        long t0 = Profiler.start();
        CudaRows.softmax(device, op(x), op(out), out.shape[0], out.shape[1], log);
        if (t0 != 0) Profiler.stop(log ? "log_softmax" : "softmax", t0);
    }

    @Override public void softmaxBackward(Tensor y, Tensor dy, Tensor dx, boolean log) {
        long t0 = Profiler.start();
        CudaRows.softmaxBackward(device, op(y), op(dy), op(dx), dx.shape[0], dx.shape[1], log);
        if (t0 != 0) Profiler.stop(log ? "log_softmax_backward" : "softmax_backward", t0);
    }

    @Override public void normForward(Tensor x, Tensor w, Tensor b, Tensor y, Tensor mean, Tensor rstd, double eps, boolean rms) {
        long t0 = Profiler.start();
        int d = x.shape[x.shape.length - 1];
        int rows = (int) (x.numel() / Math.max(1, d));
        if (rows > 0) CudaRows.normForward(device, op(x), op(w), op(b), op(y), address(mean), address(rstd), rows, d, eps, rms);
        if (t0 != 0) Profiler.stop(rms ? "rms_norm" : "layer_norm", t0);
    }

    @Override public void normBackward(Tensor x, Tensor w, Tensor dy, Tensor mean, Tensor rstd, boolean rms, Tensor dx, Tensor dw, Tensor db) {
        long t0 = Profiler.start();
        int d = x.shape[x.shape.length - 1];
        int rows = (int) (x.numel() / Math.max(1, d));
        if (rows > 0) CudaRows.normBackward(device, op(x), op(w), op(dy), address(mean), address(rstd), rows, d, rms, op(dx), op(dw), op(db));
        if (t0 != 0) Profiler.stop(rms ? "rms_norm_backward" : "layer_norm_backward", t0);
    }

    @Override public void conv1dForward(Tensor x, Tensor w, Tensor bias, Tensor y, int[] cuSeqlens) {
        long t0 = Profiler.start();
        CudaConv1d.forward(device, op(x), op(w), op(bias), op(y), x.shape[0], x.shape[1], x.shape[2], w.shape[1],
                Conv1dKernel.sequenceStarts(cuSeqlens, x.shape[1]));
        if (t0 != 0) Profiler.stop("causal_conv1d", t0);
    }

    @Override public void conv1dBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db, int[] cuSeqlens) {
        long t0 = Profiler.start();
        CudaConv1d.backward(device, op(x), op(w), op(dy), op(dx), op(dw), op(db), x.shape[0], x.shape[1], x.shape[2], w.shape[1],
                Conv1dKernel.sequenceStarts(cuSeqlens, x.shape[1]));
        if (t0 != 0) Profiler.stop("causal_conv1d_backward", t0);
    }

    @Override public void selectRows(Tensor x, int outer, int size, int inner, long[] idx, Tensor plan, Tensor out) {
        long t0 = Profiler.start();
        if (plan == null) CudaIndexing.selectRows(device, op(x), outer, size, inner, idx, op(out));
        else CudaIndexing.selectRows(device, op(x), outer, size, inner, op(plan), idx.length, op(out));
        if (t0 != 0) Profiler.stop("select_rows", t0);
    }

    @Override public void addRows(Tensor g, int outer, int size, int inner, long[] idx, Tensor plan, Tensor acc) {
        long t0 = Profiler.start();
        if (plan == null) CudaIndexing.addRows(device, op(g), outer, size, inner, idx, op(acc));
        else CudaIndexing.addRows(device, op(g), outer, size, inner, op(plan), idx.length, op(acc));
        if (t0 != 0) Profiler.stop("add_rows", t0);
    }

    @Override public void gather(Tensor x, int outer, int size, int inner, Tensor idx, int n, Tensor out) {
        long t0 = Profiler.start();
        CudaIndexing.gather(device, op(x), outer, size, inner, op(idx), n, op(out));
        if (t0 != 0) Profiler.stop("gather", t0);
    }

    @Override public void scatterAdd(Tensor acc, int outer, int size, int inner, Tensor idx, int n, Tensor src) {
        long t0 = Profiler.start();
        CudaIndexing.scatterAdd(device, op(acc), outer, size, inner, op(idx), n, op(src));
        if (t0 != 0) Profiler.stop("scatter_add", t0);
    }

    @Override public void scanRows(Tensor x, int rows, int n, Tensor out, boolean product) {
        long t0 = Profiler.start();
        CudaIndexing.scanRows(device, op(x), rows, n, op(out), product);
        if (t0 != 0) Profiler.stop(product ? "cumprod" : "cumsum", t0);
    }

    @Override public void cumprodBackward(Tensor x, Tensor g, int rows, int n, Tensor dx) {
        long t0 = Profiler.start();
        CudaIndexing.cumprodBackward(device, op(x), op(g), rows, n, op(dx));
        if (t0 != 0) Profiler.stop("cumprod_backward", t0);
    }
}
