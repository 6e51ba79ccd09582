package dev.tessera.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;

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
    private static final ThreadLocal<PerThread> THREAD = ThreadLocal.withInitial(PerThread::new);

    /**
     * A thread's open scope and the emptied lists of its closed ones: a decoding step opens a scope per byte and many
     * ops open small ones, and growing fresh lists for each was 6 % of a decoding step's samples.
     */
    private static final class PerThread {
        Scope current;
        final ArrayDeque<ArrayList<Tensor>> tensorLists = new ArrayDeque<>();
        final ArrayDeque<ArrayList<Node>> nodeLists = new ArrayDeque<>();
    }

    /** Lists kept per thread for reuse, and the most entries one may have held (larger ones go to the GC). */
    private static final int POOLED_LISTS = 16, POOLED_ENTRIES = 1 << 16;

    private final Scope parent;
    private final Thread thread;
    private final PerThread home;
    private final ArrayList<Tensor> tensors;
    private final ArrayList<Node> nodes;
    private boolean closed;

    private Scope(PerThread home) {
        this.home = home;
        this.parent = home.current;
        this.thread = Thread.currentThread();
        ArrayList<Tensor> t = home.tensorLists.poll();
        ArrayList<Node> n = home.nodeLists.poll();
        this.tensors = t != null ? t : new ArrayList<>();
        this.nodes = n != null ? n : new ArrayList<>();
    }

    /** Opens a scope nested in the current one. */
    public static Scope open() {
        PerThread home = THREAD.get();
        Scope s = new Scope(home);
        home.current = s;
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
        Scope s = THREAD.get().current;
        if (s != null) {
            t.owner = s;
            s.tensors.add(t);
        }
    }

    static void register(Node n) {
        Scope s = THREAD.get().current;
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
        if (home.current != this) {
            throw new IllegalStateException("scopes must be closed in reverse order of opening: an inner scope is still open");
        }
        closed = true;
        home.current = parent;
        for (Node n : nodes) if (n.owner == this) n.releaseSaved();
        for (Tensor t : tensors) {
            if (t.owner == this) t.close();
        }
        recycle(tensors, home.tensorLists);
        recycle(nodes, home.nodeLists);
    }

    /** Empties {@code list} and keeps it for the thread's next scope, unless the pool is full or the list grew huge. */
    private static <T> void recycle(ArrayList<T> list, ArrayDeque<ArrayList<T>> pool) {
        boolean keep = list.size() <= POOLED_ENTRIES && pool.size() < POOLED_LISTS;
        list.clear();
        if (keep) pool.push(list);
    }
}
