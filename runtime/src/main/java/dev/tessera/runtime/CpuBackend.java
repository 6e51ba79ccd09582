package dev.tessera.runtime;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import dev.tessera.runtime.cpu.BinaryOp;
import dev.tessera.runtime.cpu.Conv1dKernel;
import dev.tessera.runtime.cpu.CrossEntropyKernel;
import dev.tessera.runtime.cpu.IndexKernels;
import dev.tessera.runtime.cpu.NormKernels;
import dev.tessera.runtime.cpu.Operand;
import dev.tessera.runtime.cpu.Elementwise;
import dev.tessera.runtime.cpu.Gemm;
import dev.tessera.runtime.cpu.RowReduce;
import dev.tessera.runtime.cpu.SoftmaxKernel;
import dev.tessera.runtime.cpu.UnaryGrad;
import dev.tessera.runtime.cpu.UnaryOp;

/** The CPU backend: translates tensors into memory operands for the kernels in {@code runtime.cpu}. */
final class CpuBackend implements Backend {
    static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {}

    @Override public void fill(Tensor out, double v) {
        long t0 = Profiler.start();
        Elementwise.fill(out.operand(), out.shape, v);
        if (t0 != 0) Profiler.stop("fill", t0);
    }

    @Override public void copy(Tensor x, Tensor out) {
        long t0 = Profiler.start();
        Elementwise.copy(x.operandBroadcast(out.shape), out.operand(), out.shape);
        if (t0 != 0) Profiler.stop("copy", t0);
    }

    @Override public void unary(UnaryOp op, double a, double b, Tensor x, Tensor out) {
        long t0 = Profiler.start();
        Elementwise.unary(op, a, b, x.operandBroadcast(out.shape), out.operand(), out.shape);
        if (t0 != 0) Profiler.stop("unary." + op, t0);
    }

    @Override public boolean fusesUnaryBackward(UnaryOp op, DType dtype) {
        return UnaryGrad.supports(op) && (dtype == DType.F32 || dtype == DType.F64);
    }

    @Override public void unaryBackward(UnaryOp op, Tensor x, Tensor y, Tensor g, Tensor dx) {
        long t0 = Profiler.start();
        UnaryGrad.run(op, x.operand(), (y == null ? x : y).operand(), g.operand(), dx.operand(), dx.shape);
        if (t0 != 0) Profiler.stop("unary_backward." + op, t0);
    }

    @Override public void binary(BinaryOp op, Tensor x, Tensor y, Tensor out) {
        long t0 = Profiler.start();
        Elementwise.binary(op, x.operandBroadcast(out.shape), y.operandBroadcast(out.shape), out.operand(), out.shape);
        if (t0 != 0) Profiler.stop("binary." + op, t0);
    }

    @Override public void where(Tensor cond, Tensor x, Tensor y, Tensor out) {
        long t0 = Profiler.start();
        Elementwise.where(cond.operandBroadcast(out.shape), x.operandBroadcast(out.shape), y.operandBroadcast(out.shape),
                out.operand(), out.shape);
        if (t0 != 0) Profiler.stop("where", t0);
    }

    @Override public void reduceRows(ReduceKind kind, Tensor x, int rows, int n, Tensor out) {
        long t0 = Profiler.start();
        RowReduce.Kind k = RowReduce.Kind.valueOf(kind.name());
        RowReduce.reduce(k, x.operand(), rows, n, out.operand());
        if (t0 != 0) Profiler.stop("reduce." + kind, t0);
    }

    @Override public boolean sumLeading(Tensor x, int n, int cols, Tensor out) {
        if (x.dtype != DType.F32 && x.dtype != DType.F64) return false;
        long t0 = Profiler.start();
        dev.tessera.runtime.cpu.ColumnSum.sum(x.operand(), n, cols, out.operand());
        if (t0 != 0) Profiler.stop("reduce.SUM_leading", t0);
        return true;
    }

    @Override public boolean matmulBf16Weight(Tensor a, Tensor b, Tensor out) {
        long t0 = Profiler.start();
        boolean done = Gemm.sgemmBf16Weights(a.shape[0], b.shape[1], a.shape[1], a.segment(), a.offset, a.strides[0], a.strides[1],
                b.segment(), b.offset, b.strides[0], b.strides[1], out.segment(), out.offset, out.strides[0]);
        if (t0 != 0 && done) Profiler.stop("matmul", t0, Profiler.productFlops(1, a.shape[0], b.shape[1], a.shape[1]));
        return done;
    }

    @Override public void matmul(Tensor a, Tensor b, Tensor out) {
        long t0 = Profiler.start();
        int batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
        Tensor.checkSameDtype("matmul", a, b);
        if (a.dtype == DType.F32) {
            Gemm.sgemmBatched(batch, m, n, k,
                    a.segment(), a.offset, a.strides[0], a.strides[1], a.strides[2],
                    b.segment(), b.offset, b.strides[0], b.strides[1], b.strides[2],
                    out.segment(), out.offset, out.strides[0], out.strides[1], false);
        } else if (a.dtype == DType.F64) {
            Gemm.dgemmBatched(batch, m, n, k,
                    a.segment(), a.offset, a.strides[0], a.strides[1], a.strides[2],
                    b.segment(), b.offset, b.strides[0], b.strides[1], b.strides[2],
                    out.segment(), out.offset, out.strides[0], out.strides[1], false);
        } else {
            throw new IllegalArgumentException("matmul: unsupported dtype " + a.dtype + " on cpu (F32 or F64)");
        }
        if (t0 != 0) Profiler.stop("matmul", t0, Profiler.productFlops(batch, m, n, k));
    }

    @Override public boolean hasFusedCrossEntropy() { return true; }

    @Override public void crossEntropy(Tensor x, Tensor targets, int rows, int c, long ignoreIndex, Tensor loss, Tensor lse) {
        long t0 = Profiler.start();
        CrossEntropyKernel.forward(op(x), longs(targets, rows), rows, c, ignoreIndex, op(loss), op(lse));
        if (t0 != 0) Profiler.stop("cross_entropy", t0);
    }

    @Override public void crossEntropyBackward(Tensor x, Tensor targets, Tensor lse, Tensor g, int rows, int c, long ignoreIndex, Tensor dx) {
        long t0 = Profiler.start();
        CrossEntropyKernel.backward(op(x), longs(targets, rows), op(lse), op(g), rows, c, ignoreIndex, op(dx));
        if (t0 != 0) Profiler.stop("cross_entropy_backward", t0);
    }

    /** The first n values of a contiguous I64 tensor. */
    private static long[] longs(Tensor t, int n) { return t.segment().asSlice(t.offset * 8, n * 8L).toArray(ValueLayout.JAVA_LONG); }

    @Override public void softmax(Tensor x, Tensor out, boolean log) {
        long t0 = Profiler.start();
        SoftmaxKernel.forward(x.operand(), out.operand(), out.shape[0], out.shape[1], log);
        if (t0 != 0) Profiler.stop(log ? "log_softmax" : "softmax", t0);
    }

    @Override public void softmaxBackward(Tensor y, Tensor dy, Tensor dx, boolean log) {
        long t0 = Profiler.start();
        SoftmaxKernel.backward(y.operand(), dy.operand(), dx.operand(), dx.shape[0], dx.shape[1], log);
        if (t0 != 0) Profiler.stop(log ? "log_softmax_backward" : "softmax_backward", t0);
    }

    private static Operand op(Tensor t) { return t == null ? null : t.operand(); }

    @Override public void normForward(Tensor x, Tensor w, Tensor b, Tensor y, Tensor meanOut, Tensor rstdOut, double eps, boolean rms) {
        long t0 = Profiler.start();
        int d = x.shape[x.shape.length - 1];
        int rows = (int) (x.numel() / Math.max(1, d));
        double[] mean = meanOut == null ? null : new double[rows], rstd = new double[rows];
        if (rows > 0) NormKernels.forward(op(x), op(w), op(b), op(y), mean, rstd, rows, d, eps, rms);
        if (mean != null) MemorySegment.copy(mean, 0, meanOut.segment(), ValueLayout.JAVA_DOUBLE, meanOut.offset * 8, rows);
        MemorySegment.copy(rstd, 0, rstdOut.segment(), ValueLayout.JAVA_DOUBLE, rstdOut.offset * 8, rows);
        if (t0 != 0) Profiler.stop(rms ? "rms_norm" : "layer_norm", t0);
    }

    @Override public void normBackward(Tensor x, Tensor w, Tensor dy, Tensor meanIn, Tensor rstdIn, boolean rms, Tensor dx, Tensor dw, Tensor db) {
        long t0 = Profiler.start();
        int d = x.shape[x.shape.length - 1];
        int rows = (int) (x.numel() / Math.max(1, d));
        double[] mean = meanIn == null ? null : meanIn.segment().asSlice(meanIn.offset * 8, rows * 8L).toArray(ValueLayout.JAVA_DOUBLE);
        double[] rstd = rstdIn.segment().asSlice(rstdIn.offset * 8, rows * 8L).toArray(ValueLayout.JAVA_DOUBLE);
        if (rows > 0) NormKernels.backward(op(x), op(w), op(dy), mean, rstd, rows, d, rms, op(dx), op(dw), op(db));
        if (t0 != 0) Profiler.stop(rms ? "rms_norm_backward" : "layer_norm_backward", t0);
    }

    @Override public void conv1dForward(Tensor x, Tensor w, Tensor bias, Tensor y, int[] cuSeqlens) {
        long t0 = Profiler.start();
        Conv1dKernel.forward(op(x), op(w), op(bias), op(y), x.shape[0], x.shape[1], x.shape[2], w.shape[1],
                Conv1dKernel.sequenceStarts(cuSeqlens, x.shape[1]));
        if (t0 != 0) Profiler.stop("causal_conv1d", t0);
    }

    @Override public void conv1dBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db, int[] cuSeqlens) {
        long t0 = Profiler.start();
        Conv1dKernel.backward(op(x), op(w), op(dy), op(dx), op(dw), op(db), x.shape[0], x.shape[1], x.shape[2], w.shape[1],
                Conv1dKernel.sequenceStarts(cuSeqlens, x.shape[1]));
        if (t0 != 0) Profiler.stop("causal_conv1d_backward", t0);
    }

    @Override public void selectRows(Tensor x, int outer, int size, int inner, long[] idx, Tensor plan, Tensor out) {
        long t0 = Profiler.start();
        IndexKernels.selectRows(op(x), outer, size, inner, idx, op(out));
        if (t0 != 0) Profiler.stop("select_rows", t0);
    }

    @Override public void addRows(Tensor g, int outer, int size, int inner, long[] idx, Tensor plan, Tensor acc) {
        long t0 = Profiler.start();
        IndexKernels.addRows(op(g), outer, size, inner, idx, op(acc));
        if (t0 != 0) Profiler.stop("add_rows", t0);
    }

    @Override public void gather(Tensor x, int outer, int size, int inner, Tensor idx, int n, Tensor out) {
        long t0 = Profiler.start();
        IndexKernels.gather(op(x), outer, size, inner, op(idx), n, op(out));
        if (t0 != 0) Profiler.stop("gather", t0);
    }

    @Override public void scatterAdd(Tensor acc, int outer, int size, int inner, Tensor idx, int n, Tensor src) {
        long t0 = Profiler.start();
        IndexKernels.scatterAdd(op(acc), outer, size, inner, op(idx), n, op(src));
        if (t0 != 0) Profiler.stop("scatter_add", t0);
    }

    @Override public void scanRows(Tensor x, int rows, int n, Tensor out, boolean product) {
        long t0 = Profiler.start();
        IndexKernels.scanRows(op(x), rows, n, op(out), product);
        if (t0 != 0) Profiler.stop(product ? "cumprod" : "cumsum", t0);
    }

    @Override public void cumprodBackward(Tensor x, Tensor g, int rows, int n, Tensor dx) {
        long t0 = Profiler.start();
        IndexKernels.cumprodBackward(op(x), op(g), rows, n, op(dx));
        if (t0 != 0) Profiler.stop("cumprod_backward", t0);
    }
}
