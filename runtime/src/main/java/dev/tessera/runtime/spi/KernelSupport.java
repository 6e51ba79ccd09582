package dev.tessera.runtime.spi;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cpu.CpuInfo;
import dev.tessera.runtime.cpu.CpuPool;
import java.lang.foreign.MemorySegment;

/**
 * The kernel interface of the runtime, for the fused-kernels module only: raw memory of tensors, fresh output
 * tensors, custom autograd functions, and the shared CPU pool.
 */
public final class KernelSupport {
    private static volatile TensorInternals internals;

    private KernelSupport() {}

    /** The gradient of a custom op's inputs from its output gradient; reaches saved data only through {@code saved}. */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor gradOutput, Tensor[] saved);
    }

    /** A body over an index range, for {@link #parallelFor}. */
    @FunctionalInterface
    public interface Range {
        void run(long start, long end);
    }

    /** Called once by the runtime itself. */
    public static void install(TensorInternals impl) {
        synchronized (KernelSupport.class) {
            if (internals != null) throw new IllegalStateException("kernel support is already installed");
            internals = impl;
        }
    }

    private static TensorInternals get() {
        if (internals == null) {
            try { // initialising Tensor installs the internals
                Class.forName(Tensor.class.getName(), true, Tensor.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
        }
        return internals;
    }

    /** The tensor's memory (the whole storage; index it with {@link #offset} and {@link #strides}, in elements). */
    public static MemorySegment segment(Tensor t) { return get().segment(t); }

    public static long offset(Tensor t) { return get().offset(t); }

    public static long[] strides(Tensor t) { return get().strides(t); }

    /** A new zero-filled contiguous tensor in the current scope. */
    public static Tensor allocate(DType dtype, int[] shape, Device device) { return get().allocate(dtype, shape, device, true); }

    /**
     * A new contiguous tensor in the current scope whose contents are undefined (reused memory holds old data), for an
     * output the kernel writes in full: it saves the pass over memory that zero-filling costs on the CPU. The test
     * suites fill such memory with NaN bytes, so a kernel that leaves part of it unwritten fails its tests.
     */
    public static Tensor allocateUninitialized(DType dtype, int[] shape, Device device) { return get().allocate(dtype, shape, device, false); }

    /** Records a custom op in the autograd graph when an input requires grad; returns {@code out}. */
    public static Tensor record(String op, Tensor out, Tensor[] inputs, Tensor[] saved, Backward backward) {
        return get().record(op, out, inputs, saved, backward);
    }

    /**
     * Where the backward now running (of an op recorded with {@link #record}) may write its gradient for input
     * {@code input} instead of allocating one: then it returns this very tensor as that gradient, and the copy of it
     * into the gradient of a wider tensor the input is a slice of (a projection's output split into parts) is saved.
     * The tensor has the input's shape and the wider tensor's dtype and device, holds undefined data and is usually
     * not contiguous: rows of the wider tensor's width (see {@link #rowStride}). Null when there is none; a backward
     * that cannot write its layout ignores it. One that uses it must write every element.
     */
    public static Tensor gradientDestination(int input) { return get().gradientDestination(input); }

    /**
     * The distance in elements between consecutive rows of {@code t} seen as rows over its first {@code rowDims}
     * dimensions, when each row (the remaining dimensions) is contiguous and the rows are evenly spaced, as in a slice
     * of the last dimension of a wider contiguous tensor; -1 when t is not laid out so.
     */
    public static long rowStride(Tensor t, int rowDims) {
        int[] shape = t.shape();
        long[] st = strides(t);
        if (rowDims < 1 || rowDims > shape.length) throw new IllegalArgumentException("rowStride: rowDims " + rowDims + " for rank " + shape.length);
        long expect = 1;
        for (int k = shape.length - 1; k >= rowDims; k--) {
            if (shape[k] != 1 && st[k] != expect) return -1;
            expect *= shape[k];
        }
        long row = -1, next = -1; // the innermost row dimension of size > 1 sets the stride; outer ones must follow
        for (int k = rowDims - 1; k >= 0; k--) {
            if (shape[k] == 1) continue;
            if (row < 0) {
                if (st[k] < expect) return -1;
                row = st[k];
            } else if (st[k] != next) {
                return -1;
            }
            next = st[k] * shape[k];
        }
        return row < 0 ? expect : row;
    }

    /** Start of a region timed by the runtime's per-op profiler (0 when profiling is off, and then nearly free). */
    public static long profileStart() { return get().profileStart(); }

    /** End of a region started by {@link #profileStart()}: adds a call and its time under {@code op}. Backward passes recorded through {@link #record} are timed automatically as {@code op + "_backward"}. */
    public static void profileStop(String op, long start) { get().profileStop(op, start); }

    /** Runs {@code body} over {@code [0, n)} on the runtime's CPU pool in contiguous chunks of at least {@code grain}. */
    public static void parallelFor(long n, long grain, Range body) { CpuPool.parallelFor(n, grain, body::run); }

    /**
     * True when {@code jdk.incubator.vector} is in the boot layer (and {@code -Dtessera.scalar} is not set), so Vector
     * API kernels may run. When false, a kernel must not touch any Vector API class: it takes a scalar or float64
     * route instead. A false answer logs the runtime's one-time warning about the scalar path.
     */
    public static boolean vectorAvailable() {
        if (!CpuInfo.VECTOR) CpuInfo.logOnce();
        return CpuInfo.VECTOR;
    }

    /** Threads in the CPU pool. */
    public static int cpuThreads() { return CpuPool.threads(); }
}
