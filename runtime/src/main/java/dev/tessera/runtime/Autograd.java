package dev.tessera.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Records graph nodes and runs the backward pass. */
final class Autograd {
    private Autograd() {}

    /**
     * Per thread, how deep we are in code whose ops anomaly mode must not check one by one: the check itself
     * (its ops would check themselves without end) and a node's backward (intermediates may be non-finite
     * on purpose, as in gelu's; the gradients it returns are checked and blamed on the node).
     */
    private static final ThreadLocal<int[]> ANOMALY_PAUSED = ThreadLocal.withInitial(() -> new int[1]);

    /** True when an op on these inputs must record a node. */
    static boolean needed(Tensor... inputs) {
        if (!Grad.isEnabled()) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad) return true;
        return false;
    }

    /**
     * Attaches a node to {@code out} when any input requires grad (and checks for anomalies when enabled).
     * {@code backward} must reach saved data only through its {@code saved} argument.
     */
    static Tensor record(String op, Tensor out, Tensor[] inputs, Tensor[] saved, Node.Backward backward) {
        if (Grad.isAnomalyDetectionEnabled() && ANOMALY_PAUSED.get()[0] == 0) checkFinite(op, out, "output");
        if (!needed(inputs)) return out;
        Tensor[] edges = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++) edges[i] = inputs[i] != null && inputs[i].requiresGrad ? inputs[i] : null;
        Node n = new Node(op, edges, saved, backward, out.shape.clone());
        Scope.register(n);
        out.requiresGrad = true;
        out.gradFn = n;
        return out;
    }

    static void checkFinite(String op, Tensor t, String what) {
        if (!t.dtype.isFloating() || t.isReleased()) return;
        int[] paused = ANOMALY_PAUSED.get();
        double bad;
        paused[0]++;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            bad = Reductions.sumRaw(Pointwise.unaryRaw(dev.tessera.runtime.cpu.UnaryOp.NONFINITE, 0, 0, t, DType.F32));
        } finally {
            paused[0]--;
        }
        if (bad > 0) {
            throw new ArithmeticException("anomaly detected: op '" + op + "' produced NaN or Inf in its " + what
                    + " (shape " + Shape.str(t.shape) + ")");
        }
    }

    static void backward(Tensor root, Tensor gradient, boolean retainGraph) {
        root.checkAlive("backward");
        if (!root.requiresGrad) {
            throw new IllegalStateException("backward: the tensor does not require grad (no input of its graph has requiresGrad(true))");
        }
        if (gradient == null && root.numel() != 1) {
            throw new IllegalArgumentException("backward: implicit gradient only for a scalar; this tensor has shape "
                    + Shape.str(root.shape) + ", pass a gradient");
        }
        if (gradient != null && !Arrays.equals(gradient.shape, root.shape)) {
            throw new IllegalArgumentException("backward: gradient shape " + Shape.str(gradient.shape) + " differs from tensor shape "
                    + Shape.str(root.shape));
        }
        try (Grad.Region noGrad = Grad.noGrad(); Scope temporaries = Scope.open()) {
            Tensor g0 = gradient != null ? gradient.to(root.dtype) : Tensor.full(1, root.dtype, root.device(), root.shape);
            if (root.gradFn == null) { // backward on a leaf: its gradient is the seed itself
                accumulateLeaf(root, g0, false);
                return;
            }
            Map<Node, int[]> consumers = new IdentityHashMap<>();
            List<Node> order = topologicalOrder(root.gradFn, consumers);
            Map<Node, Tensor> pending = new IdentityHashMap<>();
            // Gradients this loop allocated as sums: referenced by their pending entry alone, so they may be added
            // into in place. A tensor a backward returned may be shared (add returns g for both inputs): never.
            Set<Tensor> owned = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            // Owned gradients still being assembled from slices (partly unwritten): completed before anything reads them.
            Map<Tensor, PartialGradient> partial = new IdentityHashMap<>();
            // Slice nodes whose gradient a backward already wrote in place, into their part of the input's gradient.
            Map<Node, Tensor> placed = new IdentityHashMap<>();
            pending.put(root.gradFn, g0);
            for (Node node : order) {
                Tensor g = pending.remove(node);
                if (g == null) continue;
                owned.remove(g);
                complete(partial, g);
                if (node.slice != null && node.inputs[0] != null && node.inputs[0].gradFn != null) {
                    Tensor inPlace = placed.remove(node);
                    if (inPlace == null) {
                        addIntoSlice(node, g, pending, owned, partial);
                    } else if (g.storage != inPlace.storage || g.offset != inPlace.offset) {
                        throw new IllegalStateException("internal: the gradient of slice '" + node.op + "' " + Shape.str(g.shape)
                                + " left the part of its input's gradient it was written into");
                    }
                    if (!retainGraph) node.releaseSaved();
                    continue;
                }
                Destinations lent = lendDestinations ? Destinations.offer(node, consumers, pending, partial) : null;
                Tensor[] gin;
                int[] paused = ANOMALY_PAUSED.get();
                paused[0]++;
                Tensor[] outer = DESTINATIONS.get();
                DESTINATIONS.set(lent == null ? null : lent.tensors);
                try {
                    gin = node.runBackward(g);
                } finally {
                    DESTINATIONS.set(outer);
                    paused[0]--;
                }
                if (lent != null) lent.settle(gin, pending, owned, partial, placed);
                if (!retainGraph) node.releaseSaved();
                for (int i = 0; i < node.inputs.length; i++) {
                    Tensor in = node.inputs[i];
                    if (in == null || gin[i] == null) continue;
                    Tensor gi = gin[i];
                    if (!Arrays.equals(gi.shape, in.shape)) {
                        throw new IllegalStateException("internal: backward of '" + node.op + "' gave gradient " + Shape.str(gi.shape)
                                + " for input " + i + " of shape " + Shape.str(in.shape));
                    }
                    if (Grad.isAnomalyDetectionEnabled()) checkFinite(node.op + " (backward)", gi, "gradient for input " + i);
                    if (in.gradFn == null) {
                        accumulateLeaf(in, gi, exclusive(gi, g, gin, i, temporaries));
                    } else {
                        Tensor prev = pending.get(in.gradFn);
                        if (prev != null) complete(partial, prev);
                        if (prev == null) {
                            pending.put(in.gradFn, gi);
                        } else if (owned.contains(prev) && prev.dtype == gi.dtype) {
                            prev.addInPlace(gi);
                        } else {
                            Tensor sum = prev.add(gi);
                            owned.add(sum);
                            pending.put(in.gradFn, sum);
                        }
                    }
                }
            }
        }
    }

    /** Zeroes what no slice wrote of {@code g} if it is still being assembled from slices. */
    private static void complete(Map<Tensor, PartialGradient> partial, Tensor g) {
        PartialGradient pg = partial.remove(g);
        if (pg != null) pg.complete();
    }

    /**
     * A narrow's backward without running it: g goes straight into its slice of the input's pending gradient. The
     * first slice starts a {@link PartialGradient} (slices that do not overlap are copied, not added into zeros);
     * otherwise the pending gradient is made (zeros, or a copy of a shared one) and owned the first time.
     */
    private static void addIntoSlice(Node node, Tensor g, Map<Node, Tensor> pending, Set<Tensor> owned, Map<Tensor, PartialGradient> partial) {
        Tensor in = node.inputs[0];
        Tensor sum = pending.get(in.gradFn);
        if (sum == null) {
            PartialGradient started = PartialGradient.start(in, node.slice, g);
            if (started != null) {
                owned.add(started.buffer());
                pending.put(in.gradFn, started.buffer());
                partial.put(started.buffer(), started);
                return;
            }
        } else {
            PartialGradient pg = partial.get(sum);
            if (pg != null) {
                if (pg.tryCopy(node.slice, g)) return;
                complete(partial, sum); // an overlapping or differently cut slice: add into the completed buffer
            }
        }
        if (sum == null || !owned.contains(sum)) {
            Tensor fresh = sum == null ? Tensor.zeros(in.dtype, g.device(), in.shape) : ShapeOps.copyOf(sum, in.dtype);
            owned.add(fresh);
            pending.put(in.gradFn, fresh);
            sum = fresh;
        }
        Node.Slice s = node.slice;
        Views.narrow(sum, s.dim(), s.start(), s.length(), s.step()).addInPlace(g.dtype == sum.dtype ? g : g.to(sum.dtype));
    }

    /**
     * Whether gradient {@code gin[i]} belongs to no one else, so that a leaf may keep it as its {@code .grad} instead of
     * a copy: made during this walk (owned by its temporaries), the only tensor on its memory and all of that memory,
     * not the gradient the node received (a pass-through) and not also returned for another input (add returns one
     * tensor for both).
     */
    private static boolean exclusive(Tensor gi, Tensor received, Tensor[] gin, int i, Scope temporaries) {
        if (gi == received || gi.owner != temporaries || gi.storage.isShared() || gi.offset != 0
                || gi.storage.byteSize() != gi.numel() * gi.dtype.byteSize() || !gi.isContiguous()) {
            return false;
        }
        for (int j = 0; j < gin.length; j++) if (j != i && gin[j] == gi) return false;
        return true;
    }

    private static void accumulateLeaf(Tensor leaf, Tensor g, boolean exclusive) {
        if (leaf.grad == null || leaf.grad.isReleased()) {
            if (exclusive && g.dtype == leaf.dtype && g.device().equals(leaf.device())) {
                Scope.detach(g); // kept: nothing else refers to it
                leaf.grad = g;
                return;
            }
            // Otherwise a fresh copy: g may be shared with another input (add gives both the same tensor).
            Tensor copy = ShapeOps.copyOf(g, leaf.dtype);
            Scope.detach(copy);
            leaf.grad = copy;
        } else {
            leaf.grad.addInPlace(g);
        }
    }

    /** Off only in tests that compare the gradients and copies with and without destinations. */
    static boolean lendDestinations = true;

    /** Where the running backward may write its gradients, per input (see {@link #destination}); null: nowhere. */
    private static final ThreadLocal<Tensor[]> DESTINATIONS = new ThreadLocal<>();

    /**
     * The tensor the backward now running may write its gradient for input {@code input} into, and then return as that
     * gradient, instead of a tensor of its own: a part of the gradient being assembled for a tensor that input is a
     * slice of (a projection's output split into parts, say), so that no copy into that part follows. It has the
     * input's shape and the sliced tensor's dtype and device, is usually not contiguous (rows of the sliced tensor's
     * width) and holds undefined data. Null when there is none: the backward allocates as always. A backward that
     * writes into it must write all of it.
     */
    static Tensor destination(int input) {
        Tensor[] d = DESTINATIONS.get();
        return d == null || input < 0 || input >= d.length ? null : d[input];
    }

    /** The destinations lent to one node's backward: for each input, the slice node and buffer part behind it. */
    private static final class Destinations {
        final Tensor[] tensors;
        final Node[] slices;
        final PartialGradient[] buffers;
        /** Buffers made for this node that were not pending yet: registered once a part is used. */
        final boolean[] fresh;

        private Destinations(int n) {
            tensors = new Tensor[n];
            slices = new Node[n];
            buffers = new PartialGradient[n];
            fresh = new boolean[n];
        }

        /**
         * Lends a destination for each input of {@code node} that reaches a unit-step slice of a tensor with a
         * gradient, directly or through one reshape without a copy, where each link has this node as its only
         * consumer and the slice's part of that tensor's gradient is unwritten. Null when no input qualifies.
         */
        static Destinations offer(Node node, Map<Node, int[]> consumers, Map<Node, Tensor> pending, Map<Tensor, PartialGradient> partial) {
            Destinations d = null;
            Map<Node, PartialGradient> made = null;
            for (int i = 0; i < node.inputs.length; i++) {
                Tensor t = node.inputs[i];
                if (t == null || t.gradFn == null || consumers.get(t.gradFn)[0] != 1) continue;
                Node slice = t.gradFn;
                if (slice.reshapeView) {
                    Tensor viewed = slice.inputs[0];
                    slice = viewed == null ? null : viewed.gradFn;
                    if (slice == null || consumers.get(slice)[0] != 1) continue;
                }
                if (slice.slice == null || slice.slice.step() != 1) continue;
                Tensor base = slice.inputs[0];
                if (base == null || base.gradFn == null) continue;
                Tensor prior = pending.get(base.gradFn);
                PartialGradient pg;
                boolean isNew = false;
                if (prior != null) {
                    pg = partial.get(prior);
                    if (pg == null) continue; // a whole gradient is pending already: the slice is added into it
                } else {
                    if (made == null) made = new IdentityHashMap<>();
                    pg = made.get(base.gradFn);
                    if (pg == null) {
                        pg = PartialGradient.empty(base, slice.slice, t.device());
                        made.put(base.gradFn, pg);
                    }
                    isNew = true;
                }
                Tensor dest = pg.reserve(slice.slice, t.shape);
                if (dest == null) {
                    if (isNew && pg.isIdle()) { // made for this input alone: free it now rather than with the walk
                        made.remove(base.gradFn);
                        pg.buffer().close();
                    }
                    continue;
                }
                if (d == null) d = new Destinations(node.inputs.length);
                d.tensors[i] = dest;
                d.slices[i] = slice;
                d.buffers[i] = pg;
                d.fresh[i] = isNew;
            }
            return d;
        }

        /**
         * After the backward: a part it returned as an input's gradient counts as written (its slice node will find it
         * in place); a part it did not use is free again.
         */
        void settle(Tensor[] gin, Map<Node, Tensor> pending, Set<Tensor> owned, Map<Tensor, PartialGradient> partial, Map<Node, Tensor> placed) {
            for (int i = 0; i < tensors.length; i++) {
                if (tensors[i] == null) continue;
                PartialGradient pg = buffers[i];
                Node slice = slices[i];
                if (gin[i] != tensors[i]) {
                    pg.release(slice.slice);
                    tensors[i].close();
                    continue;
                }
                pg.confirm(slice.slice);
                placed.put(slice, tensors[i]);
                Node base = slice.inputs[0].gradFn;
                if (fresh[i] && pending.get(base) == null) {
                    pending.put(base, pg.buffer());
                    owned.add(pg.buffer());
                    partial.put(pg.buffer(), pg);
                }
            }
            for (int i = 0; i < tensors.length; i++) { // buffers made here that no backward wrote into
                if (tensors[i] != null && fresh[i] && buffers[i].isIdle()) buffers[i].buffer().close();
            }
        }
    }

    /**
     * Nodes ordered so that each comes before every node it feeds gradients into (reverse topological order);
     * {@code consumers} receives, per node, how many input edges of the graph's nodes lead to it.
     */
    private static List<Node> topologicalOrder(Node root, Map<Node, int[]> consumers) {
        List<Node> post = new ArrayList<>();
        Set<Node> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        // Iterative DFS: graphs of long sequences are deep enough to overflow the Java stack.
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        seen.add(root);
        while (!stack.isEmpty()) {
            Object[] top = stack.peek();
            Node n = (Node) top[0];
            int i = (Integer) top[1];
            if (i < n.inputs.length) {
                top[1] = i + 1;
                Tensor in = n.inputs[i];
                if (in != null && in.gradFn != null) consumers.computeIfAbsent(in.gradFn, k -> new int[1])[0]++;
                if (in != null && in.gradFn != null && seen.add(in.gradFn)) stack.push(new Object[] {in.gradFn, 0});
            } else {
                stack.pop();
                post.add(n);
            }
        }
        java.util.Collections.reverse(post);
        return post;
    }

}
