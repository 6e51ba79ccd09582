package dev.tessera.runtime;

import dev.tessera.runtime.cpu.BinaryOp;
import dev.tessera.runtime.cpu.Elementwise;
import dev.tessera.runtime.cpu.Gemm;
import dev.tessera.runtime.cpu.RowReduce;
import dev.tessera.runtime.cpu.SoftmaxKernel;
import dev.tessera.runtime.cpu.UnaryOp;

/** The CPU backend: translates tensors into memory operands for the kernels in {@code runtime.cpu}. */
final class CpuBackend implements Backend {
    static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {}

    @Override public void fill(Tensor out, double v) { Elementwise.fill(out.operand(), out.shape, v); }

    @Override public void copy(Tensor x, Tensor out) { Elementwise.copy(x.operandBroadcast(out.shape), out.operand(), out.shape); }

    @Override public void unary(UnaryOp op, double a, double b, Tensor x, Tensor out) {
        Elementwise.unary(op, a, b, x.operandBroadcast(out.shape), out.operand(), out.shape);
    }

    @Override public void binary(BinaryOp op, Tensor x, Tensor y, Tensor out) {
        Elementwise.binary(op, x.operandBroadcast(out.shape), y.operandBroadcast(out.shape), out.operand(), out.shape);
    }

    @Override public void where(Tensor cond, Tensor x, Tensor y, Tensor out) {
        Elementwise.where(cond.operandBroadcast(out.shape), x.operandBroadcast(out.shape), y.operandBroadcast(out.shape),
                out.operand(), out.shape);
    }

    @Override public void reduceRows(ReduceKind kind, Tensor x, int rows, int n, Tensor out) {
        RowReduce.Kind k = RowReduce.Kind.valueOf(kind.name());
        RowReduce.reduce(k, x.operand(), rows, n, out.operand());
    }

    @Override public void matmul(Tensor a, Tensor b, Tensor out) {
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
    }

    @Override public void softmax(Tensor x, Tensor out, boolean log) {
        SoftmaxKernel.forward(x.operand(), out.operand(), out.shape[0], out.shape[1], log);
    }

    @Override public void softmaxBackward(Tensor y, Tensor dy, Tensor dx, boolean log) {
        SoftmaxKernel.backward(y.operand(), dy.operand(), dx.operand(), dx.shape[0], dx.shape[1], log);
    }
}
