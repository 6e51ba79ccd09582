package dev.tessera.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Deterministic release of tensors. Every tensor created while a scope is open on the current thread
 * belongs to that scope and is released when it closes, unless {@link #keep kept}:
 * <pre>{@code
 * Tensor loss;
 * try (var s = Scope.open()) {
 *     Tensor h = x.matmul(w).relu();
 *     loss = s.keep(h.sum());   // survives; everything else made here is freed
 * }
 * }</pre>
 * A kept tensor moves to the enclosing scope, or to no scope (then its owner calls {@link Tensor#close()}).
 * Autograd graph nodes recorded in a scope drop their saved tensors when it closes, except those a kept tensor
 * depends on, which move with it. Scopes nest and
 * must be closed in the reverse order of opening, on the thread that opened them.
 */
public final class Scope implements AutoCloseable {
    private static final ThreadLocal<Scope> CURRENT = new ThreadLocal<>();

    private final Scope parent;
    private final Thread thread;
    private final List<Tensor> tensors = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private boolean closed;

    private Scope(Scope parent) {
        this.parent = parent;
        this.thread = Thread.currentThread();
    }

    /** Opens a scope nested in the current one. */
    public static Scope open() {
        Scope s = new Scope(CURRENT.get());
        CURRENT.set(s);
        return s;
    }

    /**
     * Keeps {@code t} alive past this scope: it moves to the enclosing scope (or to none), and so does the part of
     * its autograd graph recorded here, so that {@code t.backward()} still works after this scope closed.
     * Returns {@code t}.
     */
    public <T extends Tensor> T keep(T t) {
        if (t.owner == this) {
            t.owner = parent;
            if (parent != null) parent.tensors.add(t);
        }
        keepGraph(t.gradFn);
        return t;
    }

    /** Moves the nodes recorded in this scope that {@code root} depends on to the enclosing scope. */
    private void keepGraph(Node root) {
        ArrayDeque<Node> todo = new ArrayDeque<>();
        if (root != null && root.owner == this) todo.push(root);
        while (!todo.isEmpty()) {
            Node n = todo.pop();
            if (n.owner != this) continue; // already moved through another path
            n.owner = parent;
            if (parent != null) parent.nodes.add(n);
            for (Tensor in : n.inputs) {
                // Nodes recorded in enclosing scopes stay where they are, and so do all their inputs' nodes.
                if (in != null && in.gradFn != null && in.gradFn.owner == this) todo.push(in.gradFn);
            }
        }
    }

    /** Keeps every tensor given; see {@link #keep}. */
    public void keepAll(Iterable<? extends Tensor> ts) {
        for (Tensor t : ts) keep(t);
    }

    /**
     * Takes {@code t} out of whatever scope owns it: it then lives until its holder calls {@link Tensor#close()}.
     * For long-lived tensors such as parameters and optimizer state. Returns {@code t}.
     */
    public static <T extends Tensor> T persist(T t) {
        t.owner = null;
        return t;
    }

    static void register(Tensor t) {
        Scope s = CURRENT.get();
        if (s != null) {
            t.owner = s;
            s.tensors.add(t);
        }
    }

    static void register(Node n) {
        Scope s = CURRENT.get();
        if (s != null) {
            n.owner = s;
            s.nodes.add(n);
        }
    }

    /** Makes {@code t} owned by no scope: its lifetime is then managed by whoever holds it. */
    static void detach(Tensor t) {
        t.owner = null;
    }

    /** Number of live tensors this scope owns (for tests and diagnostics). */
    public int ownedTensors() {
        int n = 0;
        for (Tensor t : tensors) if (t.owner == this && !t.isReleased()) n++;
        return n;
    }

    @Override
    public void close() {
        if (closed) return;
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("a scope must be closed on the thread that opened it (" + thread.getName() + ")");
        }
        if (CURRENT.get() != this) {
            throw new IllegalStateException("scopes must be closed in reverse order of opening: an inner scope is still open");
        }
        closed = true;
        CURRENT.set(parent);
        for (Node n : nodes) if (n.owner == this) n.releaseSaved();
        for (Tensor t : tensors) {
            if (t.owner == this) t.close();
        }
        tensors.clear();
        nodes.clear();
    }
}
