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

    /** Converts the value to {@code dtype} in place (e.g. F64 for gradient checks); drops any gradient. */
    public void castTo(dev.tessera.runtime.DType dtype) {
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
