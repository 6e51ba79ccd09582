package dev.tessera.nn;

import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * A trainable tensor of a {@link Module}. Its value is a leaf that requires grad and belongs to no scope,
 * so it survives every training step; {@link #set} replaces the data in place (loading, optimizer updates).
 */
public final class Parameter implements AutoCloseable {
    private Tensor value;
    private boolean noWeightDecay;
    /** The dtype its module computes in when the value is stored narrower ({@link #storeAs}); null: the value's. */
    private dev.tessera.runtime.DType computeDtype;

    /** Takes ownership of {@code init} (it leaves its scope). */
    public Parameter(Tensor init) { this(init, false); }

    /** @param noWeightDecay true for biases and norm weights, which AdamW must not decay */
    public Parameter(Tensor init, boolean noWeightDecay) {
        this.value = Scope.persist(init.isLeaf() && !init.requiresGrad() ? init : init.detach().clone());
        this.value.requiresGrad(true);
        this.noWeightDecay = noWeightDecay;
    }

    /** The tensor to compute with. */
    public Tensor value() { return value; }

    /** The accumulated gradient, or null. */
    public Tensor grad() { return value.grad(); }

    public boolean noWeightDecay() { return noWeightDecay; }

    /**
     * Exempts this parameter from weight decay, for a weight whose scale the forward pass ignores (one that only
     * enters through a cosine or a norm): decay cannot regularise it and only enlarges its relative steps. Returns this.
     */
    public Parameter excludeFromWeightDecay() {
        noWeightDecay = true;
        return this;
    }

    public int[] shape() { return value.shape(); }

    public long numel() { return value.numel(); }

    /** Copies {@code data} (same shape, converted to this dtype) into the parameter, outside autograd. */
    public void set(Tensor data) {
        if (!java.util.Arrays.equals(data.shape(), value.shape())) {
            throw new IllegalArgumentException("parameter set: shape " + java.util.Arrays.toString(data.shape())
                    + " differs from the parameter's " + java.util.Arrays.toString(value.shape()));
        }
        try (Grad.Region g = Grad.noGrad()) {
            value.copyFrom(data);
        }
    }

    public void zeroGrad() { value.zeroGrad(); }

    /**
     * The dtype the module computes in with this parameter: the value's, or, for a value stored narrower by
     * {@link #storeAs}, the dtype it had before.
     */
    public dev.tessera.runtime.DType computeDtype() { return computeDtype != null ? computeDtype : value.dtype(); }

    /**
     * Keeps the value in {@code dtype} (BF16 for a linear layer's weight: half the memory) while its module goes on
     * computing in {@link #computeDtype()} (F32 states and activations, the products promoting the weight); storing it
     * as the compute dtype again converts it back (exactly, from BF16 to F32). Drops any gradient.
     */
    public void storeAs(dev.tessera.runtime.DType dtype) {
        if (!dtype.isFloating()) throw new IllegalArgumentException("parameter storeAs: a floating dtype, got " + dtype);
        dev.tessera.runtime.DType compute = computeDtype();
        convert(dtype);
        computeDtype = dtype == compute ? null : compute;
    }

    /** Converts the value to {@code dtype} in place (e.g. F64 for gradient checks); drops any gradient. */
    public void castTo(dev.tessera.runtime.DType dtype) {
        computeDtype = null;
        convert(dtype);
    }

    private void convert(dev.tessera.runtime.DType dtype) {
        if (value.dtype() == dtype) return;
        Tensor old = value;
        try (Grad.Region g = Grad.noGrad()) {
            value = Scope.persist(old.to(dtype));
        }
        value.requiresGrad(true);
        old.close();
    }

    /** Moves the value to {@code device} in place; drops any gradient. */
    public void moveTo(dev.tessera.runtime.Device device) {
        if (value.device().equals(device)) return;
        Tensor old = value;
        try (Grad.Region g = Grad.noGrad()) {
            value = Scope.persist(old.to(device));
        }
        value.requiresGrad(true);
        old.close();
    }

    /** Releases the value and its gradient. */
    @Override public void close() { value.close(); }
}
