package dev.tessera.runtime;

/**
 * One recorded operation of the autograd graph: which inputs need gradients, the tensors its backward
 * saved, and the backward itself, written in tensor ops so that it runs on any device.
 */
final class Node {
    /** Computes the gradients of the inputs from the gradient of the output. */
    @FunctionalInterface
    interface Backward {
        /** Returns one gradient per input (null where an input needs none). Never captures tensors: uses {@code saved}. */
        Tensor[] apply(Tensor gradOutput, Tensor[] saved);
    }

    /**
     * Set on a narrow's node: its output is this slice of its input, so the backward pass may add the output's
     * gradient straight into that slice of the input's gradient instead of running the node (a full-size zero
     * tensor per slice, then a full-size add per slice, for every split of a projection).
     */
    record Slice(int dim, int start, int length, int step) {}

    final String op;
    Slice slice;
    /**
     * Set on a view's node (a reshape without a copy): its backward only reshapes the gradient back, so a gradient
     * written into a view of the input's gradient buffer stays a view of it through this node.
     */
    boolean reshapeView;
    /** The op's inputs; entries that need no gradient are null. */
    final Tensor[] inputs;
    final int[] outputShape;
    private Tensor[] saved;
    /** The scope that releases this node's saved tensors, or null. */
    Scope owner;
    private Backward backward;
    private boolean released;

    Node(String op, Tensor[] inputs, Tensor[] toSave, Backward backward, int[] outputShape) {
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
        this.outputShape = outputShape;
        this.saved = new Tensor[toSave.length];
        for (int i = 0; i < toSave.length; i++) saved[i] = toSave[i] == null ? null : toSave[i].alias();
    }

    Tensor[] runBackward(Tensor grad) {
        if (released) {
            throw new IllegalStateException("cannot run backward through '" + op + "' again: its saved tensors were freed "
                    + "(after an earlier backward, or when the scope that recorded it closed); "
                    + "pass retainGraph=true to the first backward to run it twice");
        }
        return backward.apply(grad, saved);
    }

    boolean isReleased() { return released; }

    /** Drops the saved tensors; the node can no longer run. Idempotent. */
    void releaseSaved() {
        if (released) return;
        released = true;
        for (Tensor t : saved) if (t != null) t.close();
        saved = null;
        backward = null;
    }
}
