package dev.tessera.nn;

import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Base of the optimizers: parameter groups with their own learning-rate multiplier, a step counter,
 * and state tensors that survive every scope and are saved with checkpoints.
 */
public abstract class Optimizer implements AutoCloseable {
    /** Parameters that share a learning-rate multiplier (e.g. one H-Net stage). */
    public record Group(String name, Map<String, Parameter> params, double lrMultiplier) {}

    protected final List<Group> groups;
    protected double lr;
    protected long step;
    /** Named state tensors, e.g. "exp_avg.layers.0.weight". */
    protected final Map<String, Tensor> state = new LinkedHashMap<>();

    protected Optimizer(List<Group> groups, double lr) {
        if (lr < 0) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        this.groups = List.copyOf(groups);
        this.lr = lr;
    }

    /** One group holding every parameter of {@code module}. */
    public static List<Group> allOf(Module module) { return List.of(new Group("all", module.namedParameters(), 1.0)); }

    public double learningRate() { return lr; }

    /** Sets the base learning rate (schedules call this every step). */
    public void setLearningRate(double lr) { this.lr = lr; }

    /** Steps taken so far. */
    public long stepCount() { return step; }

    public List<Group> groups() { return groups; }

    /** Applies one update from the parameters' gradients. */
    public abstract void step();

    public void zeroGrad() { for (Group g : groups) g.params().values().forEach(Parameter::zeroGrad); }

    /** A zero tensor shaped like {@code p} under {@code key}, created once. */
    protected Tensor stateFor(String key, Parameter p) {
        return state.computeIfAbsent(key, k -> Scope.persist(Tensor.zeros(p.value().dtype(), p.value().device(), p.shape())));
    }

    /** The state tensors by name (live, not copies) plus the step as a one-element tensor. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>(state);
        return out;
    }

    /**
     * Restores state saved by {@link #stateDict()} and the step count. Each state tensor ("kind.parameter name") is
     * created like its parameter (dtype and device) and filled from the saved one, wherever that was read: a CUDA
     * model resumed from a checkpoint file gets its state on the GPU. Every name and shape is checked before anything
     * is written.
     */
    public void loadStateDict(Map<String, Tensor> saved, long stepCount) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        saved.forEach((n, t) -> shapes.put(n, t.shape()));
        for (var e : stateTensors(shapes).entrySet()) e.getValue().copyFrom(saved.get(e.getKey()));
        this.step = stepCount;
    }

    /**
     * {@link #loadStateDict(Map, long)} from a source read one tensor at a time (a checkpoint file): the state of a
     * large model is restored holding one saved tensor at a time beside it, not a copy of all of it.
     */
    public void loadStateDict(TensorSource saved, long stepCount) {
        for (var e : stateTensors(saved.shapes()).entrySet()) {
            try (Tensor t = saved.load(e.getKey())) {
                e.getValue().copyFrom(t);
            }
        }
        this.step = stepCount;
    }

    /** The state tensor for each saved name (created as needed), after checking every name and shape. */
    private Map<String, Tensor> stateTensors(Map<String, int[]> shapes) {
        Map<String, Parameter> byName = new java.util.HashMap<>();
        for (Group g : groups) byName.putAll(g.params());
        Map<String, Parameter> owners = new LinkedHashMap<>();
        for (var e : shapes.entrySet()) {
            Tensor mine = state.get(e.getKey());
            int dot = e.getKey().indexOf('.');
            Parameter p = mine != null || dot < 0 ? null : byName.get(e.getKey().substring(dot + 1));
            if (mine == null && p == null) {
                throw new IllegalArgumentException("optimizer state '" + e.getKey() + "' belongs to no parameter of this optimizer");
            }
            int[] expected = mine != null ? mine.shape() : p.shape();
            if (!java.util.Arrays.equals(expected, e.getValue())) {
                throw new IllegalArgumentException("optimizer state '" + e.getKey() + "' has shape " + java.util.Arrays.toString(e.getValue())
                        + ", expected " + java.util.Arrays.toString(expected));
            }
            owners.put(e.getKey(), p);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        owners.forEach((name, p) -> out.put(name, p == null ? state.get(name) : stateFor(name, p)));
        return out;
    }

    protected List<Map.Entry<String, Parameter>> entries(Group g) { return new ArrayList<>(g.params().entrySet()); }

    @Override
    public void close() {
        state.values().forEach(Tensor::close);
        state.clear();
    }
}
