package dev.tessera.nn;

import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A network component with named parameters and submodules. Names join with dots in registration order
 * ({@code layers.0.mixer.in_proj.weight}), exactly as PyTorch state dicts name them, so checkpoints of the
 * reference implementations map one to one.
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Parameter> params = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Registers a parameter under {@code name}. */
    protected Parameter parameter(String name, Parameter p) {
        checkName(name);
        params.put(name, p);
        return p;
    }

    /** Registers a submodule under {@code name}. */
    protected <M extends Module> M module(String name, M m) {
        checkName(name);
        children.put(name, m);
        return m;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains(".")) throw new IllegalArgumentException("bad module member name '" + name + "'");
        if (params.containsKey(name) || children.containsKey(name)) throw new IllegalArgumentException("name '" + name + "' registered twice");
    }

    /** Every parameter with its dotted name, depth first in registration order. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect("", out);
        return out;
    }

    private void collect(String prefix, Map<String, Parameter> out) {
        params.forEach((n, p) -> out.put(prefix + n, p));
        children.forEach((n, m) -> m.collect(prefix + n + ".", out));
    }

    public List<Parameter> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Direct submodules by name. */
    public Map<String, Module> children() { return java.util.Collections.unmodifiableMap(children); }

    /**
     * The floating-point operations of a forward pass over one sequence of {@code positions} (fractional for an average
     * length): by default the sum of the submodules', each run over the same positions. A module whose parts run over
     * other lengths (a chunking stage) or that computes more than its submodules (attention, a scan) says so itself.
     */
    public ForwardFlops forwardFlops(double positions) {
        ForwardFlops sum = ForwardFlops.NONE;
        for (Module m : children.values()) sum = sum.plus(m.forwardFlops(positions));
        return sum;
    }

    /** Total number of scalar parameters. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) n += p.numel();
        return n;
    }

    public boolean isTraining() { return training; }

    /** Sets training mode here and in every submodule; returns this. */
    public Module train(boolean on) {
        training = on;
        children.values().forEach(m -> m.train(on));
        return this;
    }

    public Module eval() { return train(false); }

    public void zeroGrad() { parameters().forEach(Parameter::zeroGrad); }

    /** The device of this module's parameters (the CPU for a module without any). */
    public Device device() {
        for (Parameter p : parameters()) return p.value().device();
        return Device.cpu();
    }

    /**
     * The dtype this module computes in: its first parameter's {@link Parameter#computeDtype()} (F32 when it has
     * none), which a weight stored in BF16 does not change. What decoding states are kept in.
     */
    public dev.tessera.runtime.DType dtype() {
        for (Parameter p : parameters()) return p.computeDtype();
        return dev.tessera.runtime.DType.F32;
    }

    /** Moves every parameter to {@code device} (dropping gradients); returns this. Optimizers must be made after. */
    public Module to(Device device) {
        parameters().forEach(p -> p.moveTo(device));
        return this;
    }

    /**
     * Stores the weight of every {@link Linear} in this module in {@code dtype} ({@link Parameter#storeAs}), the rest
     * as it is: with BF16, the products that dominate a model's memory and its decoding steps read half the bytes,
     * and on the CPU a decoding step reads the BF16 values in place, giving the bits of the same model with its
     * linear weights rounded to BF16. {@code dtype} equal to the compute dtype undoes it. Returns this.
     */
    public Module storeLinearWeightsAs(dev.tessera.runtime.DType dtype) {
        if (this instanceof Linear l) l.weight().storeAs(dtype);
        children.values().forEach(m -> m.storeLinearWeightsAs(dtype));
        return this;
    }

    /** Converts every parameter to {@code dtype} (F64 for gradient checks); returns this. */
    public Module castTo(dev.tessera.runtime.DType dtype) {
        parameters().forEach(p -> p.castTo(dtype));
        return this;
    }

    /** The parameter tensors by dotted name (views of the live values, not copies). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        namedParameters().forEach((n, p) -> out.put(n, p.value()));
        return out;
    }

    /**
     * Copies tensors into the parameters of the same name. With {@code strict}, a missing or unexpected name
     * fails before anything is written; a shape mismatch always fails, naming the parameter.
     */
    public void loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        state.forEach((n, t) -> shapes.put(n, t.shape()));
        Map<String, Parameter> mine = checkLoadable(shapes, strict);
        for (var e : mine.entrySet()) {
            Tensor t = state.get(e.getKey());
            if (t != null) e.getValue().set(t);
        }
    }

    /**
     * {@link #loadStateDict(Map, boolean)} from a source read one tensor at a time: names and shapes are checked first,
     * then each tensor is read, copied into its parameter and released, so the load holds the model and one tensor,
     * not a second copy of all the weights. A fault in a tensor's data (a corrupt file) is thrown after the
     * parameters before it were written; the module should then be discarded.
     */
    public void loadStateDict(TensorSource source, boolean strict) {
        Map<String, int[]> shapes = source.shapes();
        Map<String, Parameter> mine = checkLoadable(shapes, strict);
        Set<String> present = shapes.keySet();
        for (var e : mine.entrySet()) {
            if (!present.contains(e.getKey())) continue;
            try (Tensor t = source.load(e.getKey())) {
                e.getValue().set(t);
            }
        }
    }

    /** This module's parameters, after checking that {@code shapes} names (strictly: exactly) them with their shapes. */
    private Map<String, Parameter> checkLoadable(Map<String, int[]> shapes, boolean strict) {
        Map<String, Parameter> mine = namedParameters();
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>();
        for (String n : mine.keySet()) if (!shapes.containsKey(n)) missing.add(n);
        for (String n : shapes.keySet()) if (!mine.containsKey(n)) unexpected.add(n);
        if (strict && (!missing.isEmpty() || !unexpected.isEmpty())) {
            throw new IllegalArgumentException("load_state_dict: " + missing.size() + " missing keys " + firstFew(missing) + ", "
                    + unexpected.size() + " unexpected keys " + firstFew(unexpected));
        }
        for (var e : mine.entrySet()) { // validate every shape before writing any
            int[] shape = shapes.get(e.getKey());
            if (shape != null && !java.util.Arrays.equals(shape, e.getValue().shape())) {
                throw new IllegalArgumentException("load_state_dict: '" + e.getKey() + "' has shape " + java.util.Arrays.toString(shape)
                        + " in the state dict but " + java.util.Arrays.toString(e.getValue().shape()) + " in the model");
            }
        }
        return mine;
    }

    /** Up to five names and how many more, so that a mismatch of a large model still reads as one line. */
    private static String firstFew(List<String> names) {
        return names.size() <= 5 ? names.toString() : names.subList(0, 5) + " and " + (names.size() - 5) + " more";
    }

    /**
     * Releases every parameter and whatever else a module holds: each submodule's {@code close} runs (depth first), so
     * a module that keeps buffers of its own (cached tables) frees them by overriding it.
     */
    @Override
    public void close() {
        children.values().forEach(Module::close);
        params.values().forEach(Parameter::close);
    }
}
