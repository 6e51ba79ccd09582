package dev.tessera.runtime;

import dev.tessera.runtime.cpu.Operand;
import dev.tessera.runtime.cuda.CudaDevice;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

/**
 * An n-dimensional array in off-heap memory with define-by-run autograd.
 *
 * <p>A tensor is a view: storage, dtype, shape, strides and offset (both in elements). Views such as
 * {@link #reshape}, {@link #permute}, {@link #narrow} and {@link #expand} share storage with their base,
 * so a write through a view is seen by the base. Ops return new tensors and record the autograd graph
 * when an input {@link #requiresGrad() requires grad}.
 *
 * <p>Memory is released deterministically, by the {@link Scope} the tensor was created in or by
 * {@link #close()}. Using a released tensor throws {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    final Storage storage;
    final DType dtype;
    final int[] shape;
    final long[] strides;
    final long offset;
    private boolean released;
    /** The scope that releases this tensor, or null. */
    Scope owner;
    boolean requiresGrad;
    Node gradFn;
    Tensor grad;

    static {
        dev.tessera.runtime.spi.KernelSupport.install(new dev.tessera.runtime.spi.TensorInternals() {
            @Override public MemorySegment segment(Tensor t) { return t.segment(); }
            @Override public long offset(Tensor t) { return t.offset; }
            @Override public long[] strides(Tensor t) { return t.strides.clone(); }
            @Override public Tensor allocate(DType dtype, int[] shape, Device device, boolean zero) { return Tensor.allocate(dtype, shape, device, zero); }
            @Override public long profileStart() { return Profiler.start(); }
            @Override public void profileStop(String op, long start) { if (start != 0) Profiler.stop(op, start); }
            @Override public Tensor record(String op, Tensor out, Tensor[] inputs, Tensor[] saved,
                                           dev.tessera.runtime.spi.KernelSupport.Backward backward) {
                String timed = op + "_backward"; // kernels' backward passes show in the profiler like runtime ops
                return Autograd.record(op, out, inputs, saved, (g, sv) -> {
                    long t0 = Profiler.start();
                    Tensor[] grads = backward.apply(g, sv);
                    if (t0 != 0) Profiler.stop(timed, t0);
                    return grads;
                });
            }
            @Override public Tensor gradientDestination(int input) { return Autograd.destination(input); }
        });
    }

    Tensor(Storage storage, DType dtype, int[] shape, long[] strides, long offset) {
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        Scope.register(this);
    }

    /** A fresh contiguous tensor of the given dtype and shape; its contents are undefined until written. */
    static Tensor allocate(DType dtype, int[] shape, Device device) { return allocate(dtype, shape, device, false); }

    static Tensor allocate(DType dtype, int[] shape, Device device, boolean zero) {
        Shape.checkShape("allocate", shape);
        Storage s;
        try {
            s = Storage.allocate(device, Shape.numel(shape) * dtype.byteSize(), zero);
        } catch (DeviceOutOfMemoryException e) {
            throw e.forTensor("a tensor of " + Shape.str(shape) + " " + dtype);
        }
        return new Tensor(s, dtype, shape.clone(), Shape.contiguousStrides(shape), 0);
    }

    // ---------------------------------------------------------------- creation

    /** Zeros of dtype F32. */
    public static Tensor zeros(int... shape) { return zeros(DType.F32, shape); }

    public static Tensor zeros(DType dtype, int... shape) { return zeros(dtype, Device.cpu(), shape); }

    /** Zeros on {@code device}. */
    public static Tensor zeros(DType dtype, Device device, int... shape) {
        Shape.checkShape("zeros", shape);
        return allocate(dtype, shape, device, true);
    }

    public static Tensor ones(int... shape) { return full(1, DType.F32, shape); }

    public static Tensor ones(DType dtype, int... shape) { return full(1, dtype, shape); }

    /** A tensor filled with {@code value}. */
    public static Tensor full(double value, DType dtype, int... shape) { return full(value, dtype, Device.cpu(), shape); }

    /** A tensor on {@code device} filled with {@code value}. */
    public static Tensor full(double value, DType dtype, Device device, int... shape) {
        Shape.checkShape("full", shape);
        Tensor t = allocate(dtype, shape, device, value == 0);
        if (value != 0) Backend.of(t).fill(t, value);
        return t;
    }

    /** A 0-dimensional F32 tensor. */
    public static Tensor scalar(double value) { return full(value, DType.F32, new int[0]); }

    /** A 0-dimensional tensor of the given dtype. */
    public static Tensor scalar(double value, DType dtype) { return full(value, dtype, new int[0]); }

    /** 0, 1, ..., n-1 as I64. */
    public static Tensor arange(int n) { return arange(0, n, 1, DType.I64); }

    /** start, start+step, ... below end (above it for a negative step). */
    public static Tensor arange(double start, double end, double step, DType dtype) {
        if (step == 0) throw new IllegalArgumentException("arange: step must be non-zero");
        long n = (long) Math.max(0, Math.ceil((end - start) / step));
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("arange: " + n + " elements is too many");
        Tensor t = allocate(dtype, new int[] {(int) n}, Device.cpu());
        MemorySegment m = t.segment();
        for (int i = 0; i < n; i++) dev.tessera.runtime.cpu.Elements.set(m, dtype, i, start + i * step);
        return t;
    }

    /** The n×n identity matrix, F32. */
    public static Tensor eye(int n) { return eye(n, DType.F32); }

    public static Tensor eye(int n, DType dtype) {
        Tensor t = zeros(dtype, n, n);
        for (int i = 0; i < n; i++) dev.tessera.runtime.cpu.Elements.set(t.segment(), dtype, (long) i * n + i, 1);
        return t;
    }

    /** An F32 tensor holding {@code data} in row-major order. */
    public static Tensor of(float[] data, int... shape) {
        Tensor t = fromArrayChecked("of(float[])", data.length, DType.F32, shape);
        MemorySegment.copy(data, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, data.length);
        return t;
    }

    /** An F64 tensor holding {@code data}. */
    public static Tensor of(double[] data, int... shape) {
        Tensor t = fromArrayChecked("of(double[])", data.length, DType.F64, shape);
        MemorySegment.copy(data, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_DOUBLE, 0, data.length);
        return t;
    }

    /** An I32 tensor holding {@code data}. */
    public static Tensor of(int[] data, int... shape) {
        Tensor t = fromArrayChecked("of(int[])", data.length, DType.I32, shape);
        MemorySegment.copy(data, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_INT, 0, data.length);
        return t;
    }

    /** An I64 tensor holding {@code data}. */
    public static Tensor of(long[] data, int... shape) {
        Tensor t = fromArrayChecked("of(long[])", data.length, DType.I64, shape);
        MemorySegment.copy(data, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_LONG, 0, data.length);
        return t;
    }

    /** A BOOL tensor holding {@code data}. */
    public static Tensor of(boolean[] data, int... shape) {
        Tensor t = fromArrayChecked("of(boolean[])", data.length, DType.BOOL, shape);
        for (int i = 0; i < data.length; i++) t.segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) (data[i] ? 1 : 0));
        return t;
    }

    /** A U8 tensor holding {@code data} (bytes read as unsigned). */
    public static Tensor ofBytes(byte[] data, int... shape) {
        Tensor t = fromArrayChecked("ofBytes", data.length, DType.U8, shape);
        MemorySegment.copy(data, 0, t.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
        return t;
    }

    /**
     * A tensor holding a copy of {@code numel·byteSize} little-endian bytes of {@code src} from {@code byteOffset}
     * (the layout of safetensors and NumPy files).
     */
    public static Tensor fromBytes(DType dtype, int[] shape, MemorySegment src, long byteOffset) {
        Shape.checkShape("fromBytes", shape);
        long bytes = Shape.numel(shape) * dtype.byteSize();
        if (byteOffset < 0 || byteOffset + bytes > src.byteSize()) {
            throw new IndexOutOfBoundsException("fromBytes: " + bytes + " bytes at offset " + byteOffset + " exceed the source of "
                    + src.byteSize() + " bytes");
        }
        requireLittleEndian();
        Tensor t = allocate(dtype, shape, Device.cpu());
        MemorySegment.copy(src, byteOffset, t.segment(), 0, bytes);
        return t;
    }

    /** Writes this tensor's elements in row-major order as little-endian bytes into {@code dst} at {@code byteOffset}. */
    public void copyBytesTo(MemorySegment dst, long byteOffset) {
        long bytes = numel() * dtype.byteSize();
        if (byteOffset < 0 || byteOffset + bytes > dst.byteSize()) {
            throw new IndexOutOfBoundsException("copyBytesTo: " + bytes + " bytes at offset " + byteOffset + " exceed the destination of "
                    + dst.byteSize() + " bytes");
        }
        requireLittleEndian();
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            if (!device().isCpu()) {
                // Straight from the device into dst: a dense copy on the GPU first, then one transfer.
                Tensor c = contiguous();
                CudaDevice.get(device().index()).copyToHost(c.storage.deviceAddress() + c.offset * dtype.byteSize(), dst, byteOffset, bytes);
                return;
            }
            Tensor c = contiguous();
            MemorySegment.copy(c.segment(), c.offset * dtype.byteSize(), dst, byteOffset, bytes);
        }
    }

    private static void requireLittleEndian() {
        if (java.nio.ByteOrder.nativeOrder() != java.nio.ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("Tessera's byte I/O assumes a little-endian machine");
        }
    }

    private static Tensor fromArrayChecked(String op, int length, DType dtype, int[] shape) {
        Shape.checkShape(op, shape);
        if (Shape.numel(shape) != length) {
            throw new IllegalArgumentException(op + ": " + length + " values do not fill shape " + Shape.str(shape)
                    + " (" + Shape.numel(shape) + " elements)");
        }
        return allocate(dtype, shape, Device.cpu());
    }

    /** Uniform in [0, 1), F32, from {@code gen}. */
    public static Tensor rand(Generator gen, int... shape) { return RandomOps.uniform(gen, DType.F32, shape, Device.cpu()); }

    /** Uniform in [0, 1), F32, drawn on {@code device}: the same numbers as on the CPU for the same generator state. */
    public static Tensor rand(Generator gen, Device device, int... shape) { return RandomOps.uniform(gen, DType.F32, shape, device); }

    /** Standard normal, F32, from {@code gen}. */
    public static Tensor randn(Generator gen, int... shape) { return RandomOps.normal(gen, DType.F32, shape, Device.cpu()); }

    /** Standard normal, F32, drawn on {@code device} (equal to the CPU's draw up to 1 ulp). */
    public static Tensor randn(Generator gen, Device device, int... shape) { return RandomOps.normal(gen, DType.F32, shape, device); }

    /** Integers uniform in [low, high), I64, from {@code gen}. */
    public static Tensor randint(Generator gen, long low, long high, int... shape) { return RandomOps.randint(gen, low, high, shape); }

    /** 1 with probability {@code p} (elementwise), else 0, in p's dtype. */
    public static Tensor bernoulli(Generator gen, Tensor p) { return RandomOps.bernoulli(gen, p); }

    // ---------------------------------------------------------------- properties

    public DType dtype() { return dtype; }

    public Device device() { return storage.device(); }

    /** A copy of the shape. */
    public int[] shape() { return shape.clone(); }

    /** Size of dimension {@code d} (negative counts from the end). */
    public int size(int d) { return shape[Shape.dim("size", d, shape.length)]; }

    /** Number of dimensions. */
    public int dim() { return shape.length; }

    public long numel() { return Shape.numel(shape); }

    /** A copy of the strides, in elements. */
    public long[] strides() { return strides.clone(); }

    /** Offset of element 0 into the storage, in elements. */
    public long storageOffset() { return offset; }

    /** True when the elements are laid out densely in row-major order. */
    public boolean isContiguous() {
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != s) return false;
            s *= shape[i];
        }
        return true;
    }

    public boolean isReleased() { return released || storage.isFreed(); }

    /** True when this tensor and {@code other} view the same storage. */
    public boolean sharesStorageWith(Tensor other) { return storage == other.storage; }

    void checkAlive(String op) {
        if (released) throw new IllegalStateException(op + ": tensor " + Shape.str(shape) + " " + dtype + " was released");
    }

    MemorySegment segment() {
        checkAlive("access");
        return storage.segment();
    }

    /**
     * The device address of element 0 of a CUDA tensor (storage offset applied), for handing the memory to other
     * CUDA code; valid while the tensor is alive. Work queued by Tessera runs on its device's stream.
     */
    public long deviceAddress() {
        checkAlive("deviceAddress");
        if (device().isCpu()) throw new IllegalStateException("deviceAddress: tensor " + Shape.str(shape) + " is on the cpu");
        return storage.deviceAddress() + offset * dtype.byteSize();
    }

    /** This tensor as a CUDA kernel operand. */
    dev.tessera.runtime.cuda.DeviceOperand deviceOperand() {
        checkAlive("access");
        return new dev.tessera.runtime.cuda.DeviceOperand(storage.deviceAddress() + offset * dtype.byteSize(), dtype, shape, strides);
    }

    /** A CUDA operand with this tensor's memory viewed under a broadcast {@code target} shape. */
    dev.tessera.runtime.cuda.DeviceOperand deviceOperandBroadcast(int[] target) {
        checkAlive("access");
        long[] st = new long[target.length];
        int lead = target.length - shape.length;
        for (int i = 0; i < shape.length; i++) st[lead + i] = shape[i] == 1 ? 0 : strides[i];
        return new dev.tessera.runtime.cuda.DeviceOperand(storage.deviceAddress() + offset * dtype.byteSize(), dtype, target.clone(), st);
    }

    Operand operand() {
        checkAlive("access");
        return new Operand(storage.segment(), dtype, offset, strides);
    }

    /** An operand with this tensor's memory viewed under a broadcast {@code target} shape. */
    Operand operandBroadcast(int[] target) {
        checkAlive("access");
        long[] st = new long[target.length];
        int lead = target.length - shape.length;
        for (int i = 0; i < shape.length; i++) st[lead + i] = shape[i] == 1 ? 0 : strides[i];
        return new Operand(storage.segment(), dtype, offset, st);
    }

    // ---------------------------------------------------------------- lifetime

    /** Releases this tensor's reference to its storage (and its gradient). Idempotent. */
    @Override
    public void close() {
        if (released) return;
        released = true;
        storage.release();
        if (grad != null) {
            grad.close();
            grad = null;
        }
    }

    /** A second tensor object on the same storage, owned by no scope (autograd's saved tensors). */
    Tensor alias() {
        checkAlive("save for backward");
        storage.retain();
        Tensor t = new Tensor(storage, dtype, shape, strides, offset);
        Scope.detach(t);
        return t;
    }

    /** A view on the same storage, registered in the current scope. */
    Tensor view(int[] newShape, long[] newStrides, long newOffset) {
        checkAlive("view");
        storage.retain();
        return new Tensor(storage, dtype, newShape, newStrides, newOffset);
    }

    // ---------------------------------------------------------------- autograd

    /** True when ops on this tensor record gradients for it. */
    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf tensor as needing gradients (floating dtypes only). Returns this. */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null && !on) throw new IllegalStateException("requiresGrad(false) on a non-leaf tensor (made by '" + gradFn.op + "'): use detach()");
        if (on && !dtype.isFloating()) throw new IllegalArgumentException("requiresGrad: only floating tensors can require grad, not " + dtype);
        requiresGrad = on;
        return this;
    }

    /** The accumulated gradient of a leaf, or null. */
    public Tensor grad() { return grad; }

    /** Name of the op that produced this tensor, or null for a leaf. */
    public String gradFnName() { return gradFn == null ? null : gradFn.op; }

    /** True for tensors not produced by a recorded op. */
    public boolean isLeaf() { return gradFn == null; }

    /** Releases the gradient. */
    public void zeroGrad() {
        if (grad != null) {
            grad.close();
            grad = null;
        }
    }

    /** Backpropagates from this scalar: accumulates d this / d leaf into each leaf's {@link #grad()}. */
    public void backward() { Autograd.backward(this, null, false); }

    /** Backpropagates with an explicit output gradient of this tensor's shape. */
    public void backward(Tensor gradient) { Autograd.backward(this, gradient, false); }

    /** Backpropagates; with {@code retainGraph} the graph can be walked again. */
    public void backward(Tensor gradient, boolean retainGraph) { Autograd.backward(this, gradient, retainGraph); }

    /** The same data, cut from the graph. */
    public Tensor detach() {
        Tensor t = view(shape, strides, offset);
        return t;
    }

    // ---------------------------------------------------------------- views

    /** Same data, new shape (one entry may be -1); copies only when the strides do not allow a view. */
    public Tensor reshape(int... newShape) { return Views.reshape(this, newShape); }

    /** Like {@link #reshape} but never copies: throws when the layout does not allow a view. */
    public Tensor view(int... newShape) { return Views.view(this, newShape); }

    public Tensor permute(int... order) { return Views.permute(this, order); }

    public Tensor transpose(int d0, int d1) { return Views.transpose(this, d0, d1); }

    /** Transpose of a 2-D tensor. */
    public Tensor t() {
        if (shape.length != 2) throw new IllegalArgumentException("t: expects a 2-D tensor, got shape " + Shape.str(shape));
        return transpose(0, 1);
    }

    /** Elements {@code start .. start+length-1} along {@code dim}. */
    public Tensor narrow(int dim, int start, int length) { return Views.narrow(this, dim, start, length, 1); }

    /** Python-style slice {@code [start:end:step]} along {@code dim} (negative start/end count from the end). */
    public Tensor slice(int dim, int start, int end, int step) { return Views.slice(this, dim, start, end, step); }

    /** The sub-tensor at {@code index} along {@code dim}, with that dimension removed. */
    public Tensor select(int dim, int index) { return Views.select(this, dim, index); }

    public Tensor squeeze() { return Views.squeeze(this, null); }

    public Tensor squeeze(int dim) { return Views.squeeze(this, dim); }

    public Tensor unsqueeze(int dim) { return Views.unsqueeze(this, dim); }

    /** Broadcasts size-1 dimensions to {@code newShape} without copying (-1 keeps a size). */
    public Tensor expand(int... newShape) { return Views.expand(this, newShape); }

    public Tensor flatten() { return reshape(-1); }

    /** Merges dimensions {@code start..end} into one. */
    public Tensor flatten(int start, int end) { return Views.flatten(this, start, end); }

    /** This tensor if contiguous, else a contiguous copy. */
    public Tensor contiguous() { return isContiguous() ? Views.identity(this) : clone(); }

    /** A contiguous copy (differentiable). */
    @Override
    public Tensor clone() { return ShapeOps.copyOf(this, dtype); }

    /** A copy converted to {@code target}; the same tensor (a view) when the dtype already matches. */
    public Tensor to(DType target) { return target == dtype ? Views.identity(this) : ShapeOps.copyOf(this, target); }

    /** This tensor on {@code device}. */
    public Tensor to(Device device) { return DeviceTransfer.to(this, device); }

    // ---------------------------------------------------------------- reading values

    /** The single value of a one-element tensor. */
    public double item() {
        checkAlive("item");
        if (numel() != 1) throw new IllegalArgumentException("item: tensor of shape " + Shape.str(shape) + " has " + numel() + " elements, not 1");
        if (!device().isCpu()) return DeviceTransfer.readElement(this, offset);
        return dev.tessera.runtime.cpu.Elements.get(segment(), dtype, offset);
    }

    /** The element at a multi-index. */
    public double get(int... index) {
        checkAlive("get");
        if (index.length != shape.length) {
            throw new IllegalArgumentException("get: " + index.length + " indices for a tensor of rank " + shape.length);
        }
        long o = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("get: index " + index[i] + " out of range for dimension " + i + " of size " + shape[i]);
            }
            o += index[i] * strides[i];
        }
        if (!device().isCpu()) return DeviceTransfer.readElement(this, o);
        return dev.tessera.runtime.cpu.Elements.get(segment(), dtype, o);
    }

    /** This tensor, or a host copy of it when it lives on a GPU (registered in the current scope). */
    /**
     * Whether an array of {@code as} can be read straight from this tensor's memory: a contiguous CPU tensor of that
     * dtype. Otherwise the readers copy it first (a contiguous host copy in the dtype); reading in place skips an
     * allocation and a kernel, which a decoding step's small reads (sampling logits, a scan's per-head constants) paid
     * on every call.
     */
    private boolean readsInPlace(DType as) {
        checkAlive("read");
        return dtype == as && device().isCpu() && isContiguous();
    }

    private Tensor onHost() {
        checkAlive("read");
        if (device().isCpu()) return this;
        try (Grad.Region g = Grad.noGrad()) {
            return DeviceTransfer.copyAcross(this, Device.cpu());
        }
    }

    public float[] toFloatArray() {
        if (readsInPlace(DType.F32)) return segment().asSlice(offset * 4, numel() * 4).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        try (Scope s = Scope.open()) {
            Tensor c = ShapeOps.copyOf(onHost(), DType.F32);
            return c.segment().asSlice(0, numel() * 4).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
        }
    }

    public double[] toDoubleArray() {
        if (readsInPlace(DType.F64)) return segment().asSlice(offset * 8, numel() * 8).toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE);
        try (Scope s = Scope.open()) {
            Tensor c = ShapeOps.copyOf(onHost(), DType.F64);
            return c.segment().asSlice(0, numel() * 8).toArray(java.lang.foreign.ValueLayout.JAVA_DOUBLE);
        }
    }

    public long[] toLongArray() {
        try (Scope s = Scope.open()) {
            Tensor c = ShapeOps.copyOf(onHost(), DType.I64);
            return c.segment().asSlice(0, numel() * 8).toArray(java.lang.foreign.ValueLayout.JAVA_LONG);
        }
    }

    public int[] toIntArray() {
        try (Scope s = Scope.open()) {
            Tensor c = ShapeOps.copyOf(onHost(), DType.I32);
            return c.segment().asSlice(0, numel() * 4).toArray(java.lang.foreign.ValueLayout.JAVA_INT);
        }
    }

    @Override
    public String toString() {
        if (released) return "tensor(<released>, shape=" + Shape.str(shape) + ", dtype=" + dtype + ")";
        return TensorFormat.format(this);
    }

    // ---------------------------------------------------------------- elementwise

    public Tensor add(Tensor o) { return Pointwise.binary("add", dev.tessera.runtime.cpu.BinaryOp.ADD, this, o); }

    public Tensor add(double c) { return Pointwise.affine(this, 1, c); }

    public Tensor sub(Tensor o) { return Pointwise.binary("sub", dev.tessera.runtime.cpu.BinaryOp.SUB, this, o); }

    public Tensor sub(double c) { return Pointwise.affine(this, 1, -c); }

    public Tensor mul(Tensor o) { return Pointwise.binary("mul", dev.tessera.runtime.cpu.BinaryOp.MUL, this, o); }

    public Tensor mul(double c) { return Pointwise.affine(this, c, 0); }

    public Tensor div(Tensor o) { return Pointwise.binary("div", dev.tessera.runtime.cpu.BinaryOp.DIV, this, o); }

    public Tensor div(double c) { return Pointwise.affine(this, 1 / c, 0); }

    public Tensor pow(Tensor o) { return Pointwise.binary("pow", dev.tessera.runtime.cpu.BinaryOp.POW, this, o); }

    public Tensor pow(double e) { return Pointwise.powScalar(this, e); }

    /** Elementwise maximum (NaN propagates). */
    public Tensor maximum(Tensor o) { return Pointwise.binary("maximum", dev.tessera.runtime.cpu.BinaryOp.MAX, this, o); }

    /** Elementwise minimum (NaN propagates). */
    public Tensor minimum(Tensor o) { return Pointwise.binary("minimum", dev.tessera.runtime.cpu.BinaryOp.MIN, this, o); }

    public Tensor neg() { return Pointwise.unary("neg", dev.tessera.runtime.cpu.UnaryOp.NEG, this); }

    public Tensor exp() { return Pointwise.unary("exp", dev.tessera.runtime.cpu.UnaryOp.EXP, this); }

    public Tensor log() { return Pointwise.unary("log", dev.tessera.runtime.cpu.UnaryOp.LOG, this); }

    public Tensor log1p() { return Pointwise.unary("log1p", dev.tessera.runtime.cpu.UnaryOp.LOG1P, this); }

    public Tensor sqrt() { return Pointwise.unary("sqrt", dev.tessera.runtime.cpu.UnaryOp.SQRT, this); }

    public Tensor rsqrt() { return Pointwise.unary("rsqrt", dev.tessera.runtime.cpu.UnaryOp.RSQRT, this); }

    public Tensor abs() { return Pointwise.unary("abs", dev.tessera.runtime.cpu.UnaryOp.ABS, this); }

    public Tensor tanh() { return Pointwise.unary("tanh", dev.tessera.runtime.cpu.UnaryOp.TANH, this); }

    public Tensor sigmoid() { return Pointwise.unary("sigmoid", dev.tessera.runtime.cpu.UnaryOp.SIGMOID, this); }

    public Tensor relu() { return Pointwise.unary("relu", dev.tessera.runtime.cpu.UnaryOp.RELU, this); }

    /** GELU with the exact erf form. */
    public Tensor gelu() { return Pointwise.unary("gelu", dev.tessera.runtime.cpu.UnaryOp.GELU_ERF, this); }

    /** GELU with the tanh approximation. */
    public Tensor geluTanh() { return Pointwise.unary("gelu_tanh", dev.tessera.runtime.cpu.UnaryOp.GELU_TANH, this); }

    public Tensor silu() { return Pointwise.unary("silu", dev.tessera.runtime.cpu.UnaryOp.SILU, this); }

    /** log(1 + e^x). */
    public Tensor softplus() { return Pointwise.unary("softplus", dev.tessera.runtime.cpu.UnaryOp.SOFTPLUS, this); }

    public Tensor sign() { return Pointwise.unary("sign", dev.tessera.runtime.cpu.UnaryOp.SIGN, this); }

    /** Clamps into [min, max]; gradient 1 inside, 0 outside. */
    public Tensor clamp(double min, double max) { return Pointwise.clamp(this, min, max); }

    /** {@code cond ? this : other}, broadcasting all three. */
    public Tensor where(Tensor cond, Tensor other) { return Pointwise.where(cond, this, other); }

    public Tensor eq(Tensor o) { return Pointwise.compare("eq", dev.tessera.runtime.cpu.BinaryOp.EQ, this, o); }

    public Tensor ne(Tensor o) { return Pointwise.compare("ne", dev.tessera.runtime.cpu.BinaryOp.NE, this, o); }

    public Tensor lt(Tensor o) { return Pointwise.compare("lt", dev.tessera.runtime.cpu.BinaryOp.LT, this, o); }

    public Tensor le(Tensor o) { return Pointwise.compare("le", dev.tessera.runtime.cpu.BinaryOp.LE, this, o); }

    public Tensor gt(Tensor o) { return Pointwise.compare("gt", dev.tessera.runtime.cpu.BinaryOp.GT, this, o); }

    public Tensor ge(Tensor o) { return Pointwise.compare("ge", dev.tessera.runtime.cpu.BinaryOp.GE, this, o); }

    // ---------------------------------------------------------------- in place (never recorded)

    /** {@code this += o} in place (broadcasting o); only outside autograd or on tensors that need no grad. */
    public Tensor addInPlace(Tensor o) { return Pointwise.inPlace("addInPlace", dev.tessera.runtime.cpu.BinaryOp.ADD, this, o); }

    /** {@code this *= o} in place. */
    public Tensor mulInPlace(Tensor o) { return Pointwise.inPlace("mulInPlace", dev.tessera.runtime.cpu.BinaryOp.MUL, this, o); }

    /** {@code this = a·this + b} in place. */
    public Tensor affineInPlace(double a, double b) { return Pointwise.affineInPlace(this, a, b); }

    /** Copies {@code src} (broadcast, converted) into this tensor's memory. */
    public Tensor copyFrom(Tensor src) { return Pointwise.copyInto(this, src); }

    /** Sets every element to {@code v}. */
    public Tensor fill(double v) {
        Pointwise.checkInPlace("fill", this);
        Backend.of(this).fill(this, v);
        return this;
    }

    // ---------------------------------------------------------------- reductions

    /** Sum of all elements. */
    public Tensor sum() { return Reductions.sum(this, new int[0], false); }

    public Tensor sum(int[] dims, boolean keepdim) { return Reductions.sum(this, dims, keepdim); }

    public Tensor sum(int dim) { return Reductions.sum(this, new int[] {dim}, false); }

    public Tensor mean() { return Reductions.mean(this, new int[0], false); }

    public Tensor mean(int[] dims, boolean keepdim) { return Reductions.mean(this, dims, keepdim); }

    public Tensor mean(int dim) { return Reductions.mean(this, new int[] {dim}, false); }

    public Tensor max() { return Reductions.extremum(this, new int[0], false, true); }

    public Tensor max(int[] dims, boolean keepdim) { return Reductions.extremum(this, dims, keepdim, true); }

    public Tensor min() { return Reductions.extremum(this, new int[0], false, false); }

    public Tensor min(int[] dims, boolean keepdim) { return Reductions.extremum(this, dims, keepdim, false); }

    /** Index of the largest element along {@code dim} (first on ties), I64. */
    public Tensor argmax(int dim, boolean keepdim) { return Reductions.argExtremum(this, dim, keepdim, true); }

    /** Index of the smallest element along {@code dim}, I64. */
    public Tensor argmin(int dim, boolean keepdim) { return Reductions.argExtremum(this, dim, keepdim, false); }

    /** Variance with Bessel's correction when {@code unbiased}. */
    public Tensor var(int[] dims, boolean unbiased, boolean keepdim) { return Reductions.var(this, dims, unbiased, keepdim); }

    /** log Σ exp over {@code dims}, computed stably. */
    public Tensor logsumexp(int[] dims, boolean keepdim) { return Reductions.logsumexp(this, dims, keepdim); }

    // ---------------------------------------------------------------- linear algebra and nn

    /** Matrix product with NumPy semantics: 1-D operands are promoted, batch dimensions broadcast. */
    public Tensor matmul(Tensor o) { return Linalg.matmul(this, o); }

    public Tensor softmax(int dim) { return Softmax.softmax(this, dim, false); }

    public Tensor logSoftmax(int dim) { return Softmax.softmax(this, dim, true); }

    // ---------------------------------------------------------------- combining

    public static Tensor cat(List<Tensor> ts, int dim) { return ShapeOps.cat(ts, dim); }

    public static Tensor stack(List<Tensor> ts, int dim) { return ShapeOps.stack(ts, dim); }

    /** Pieces of {@code size} along {@code dim} (the last may be smaller); views. */
    public List<Tensor> split(int size, int dim) { return ShapeOps.split(this, size, dim); }

    /** {@code n} nearly equal pieces along {@code dim}; views. */
    public List<Tensor> chunk(int n, int dim) { return ShapeOps.chunk(this, n, dim); }

    /** Pads with {@code value}: {@code pads} holds (before, after) pairs starting from the last dimension, as in PyTorch. */
    public Tensor pad(int[] pads, double value) { return ShapeOps.pad(this, pads, value); }

    /** Keeps elements on and above diagonal {@code k} of the last two dims. */
    public Tensor triu(int k) { return ShapeOps.triangle(this, k, true); }

    /** Keeps elements on and below diagonal {@code k}. */
    public Tensor tril(int k) { return ShapeOps.triangle(this, k, false); }

    // ---------------------------------------------------------------- indexing and scans

    /** Rows of this table ({@code [V, D]}) at the integer {@code indices}: shape {@code indices.shape + [D]}. */
    public Tensor embedding(Tensor indices) { return Indexing.embedding(this, indices); }

    public Tensor indexSelect(int dim, Tensor indices) { return Indexing.indexSelect(this, dim, indices); }

    public Tensor gather(int dim, Tensor indices) { return Indexing.gather(this, dim, indices); }

    /** A copy of this tensor with {@code src} added at {@code indices} along {@code dim}. */
    public Tensor scatterAdd(int dim, Tensor indices, Tensor src) { return Indexing.scatterAdd(this, dim, indices, src); }

    public Tensor cumsum(int dim) { return Scans.cumsum(this, dim); }

    public Tensor cumprod(int dim) { return Scans.cumprod(this, dim); }

    @Override
    public boolean equals(Object o) { return this == o; }

    @Override
    public int hashCode() { return System.identityHashCode(this); }

    static int[] shapeOf(Tensor t) { return t.shape; }

    static String describe(Tensor t) { return Shape.str(t.shape) + " " + t.dtype; }

    static void checkSameDtype(String op, Tensor a, Tensor b) {
        if (a.dtype != b.dtype) throw new IllegalArgumentException(op + ": dtypes differ: " + a.dtype + " and " + b.dtype);
    }

    static boolean sameShape(Tensor a, Tensor b) { return Arrays.equals(a.shape, b.shape); }
}
