package dev.tessera.runtime.cpu;

import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one thread pool of the CPU backend, sized to the cores. Work is split into contiguous chunks
 * whose boundaries depend only on the problem size and the pool size, never on timing, so that
 * parallel reductions are reproducible run to run.
 *
 * <p>The caller runs the first chunk and hands each other chunk to a worker of its own (and runs a handed chunk
 * itself when its worker has not started it by then). Handing off must be cheap:
 * a training step makes a few hundred parallel calls, many of them tens of microseconds long, and waking a parked
 * thread costs about as much on a virtual machine (a {@code ForkJoinPool} spent 11.6 of 50 s of a 300-step run in
 * submitting and waiting). So a worker that finished spins on its slot for {@link #SPIN_NANOS} before it parks,
 * and a call made within that time reaches it with two memory writes.
 */
public final class CpuPool {
    private static final int THREADS = Integer.getInteger("tessera.threads", Runtime.getRuntime().availableProcessors());
    /** How long an idle worker (or a caller waiting for one) spins before parking: covers the gaps between the ops of a step. */
    static final long SPIN_NANOS = Long.getLong("tessera.spinMicros", 200) * 1000;
    private static final Worker[] WORKERS = new Worker[Math.max(0, THREADS - 1)];
    /** One parallel call at a time; another thread (or a nested call) runs its chunks itself, in the same order. */
    private static final ReentrantLock BUSY = new ReentrantLock();

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker(i);
            WORKERS[i].start();
        }
    }

    private CpuPool() {}

    /** A body that processes indices {@code [start, end)}. */
    @FunctionalInterface
    public interface Range {
        void run(long start, long end);
    }

    /** Number of worker threads. */
    public static int threads() { return THREADS; }

    /**
     * Runs {@code body} over {@code [0, n)} split into at most {@link #threads()} contiguous chunks of at least
     * {@code grain} indices each. Called from inside a worker it runs sequentially (no nested parallelism).
     */
    public static void parallelFor(long n, long grain, Range body) {
        if (n <= 0) return;
        int chunks = (int) Math.min(THREADS, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || Thread.currentThread() instanceof Worker) {
            body.run(0, n);
            return;
        }
        if (BUSY.isHeldByCurrentThread() || !BUSY.tryLock()) {
            // The workers are taken (a nested call, or another thread's): the same chunks, one after another.
            for (int c = 0; c < chunks; c++) body.run(n * c / chunks, n * (c + 1) / chunks);
            return;
        }
        try {
            for (int c = 1; c < chunks; c++) {
                long s = n * c / chunks, e = n * (c + 1) / chunks;
                WORKERS[c - 1].hand(() -> body.run(s, e));
            }
            Throwable first = null;
            try {
                body.run(0, n / chunks);
            } catch (RuntimeException | Error ex) {
                first = ex;
            }
            for (int c = 1; c < chunks; c++) {
                Throwable f = WORKERS[c - 1].await();
                if (first == null) first = f;
            }
            if (first instanceof RuntimeException r) throw r;
            if (first instanceof Error err) throw err;
        } finally {
            BUSY.unlock();
        }
    }

    /** Splits {@code [0, n)} into chunk boundaries the same way {@link #parallelFor} does, for fixed-order reductions. */
    public static int chunkCount(long n, long grain) {
        return (int) Math.min(THREADS, Math.max(1, n / Math.max(1, grain)));
    }

    /**
     * A worker with a one-task slot: the caller fills it, and whoever takes the task first runs it and empties the
     * slot: the worker, or the caller itself when the worker has not started it by the time the caller's own chunk
     * is done (a worker that had parked takes tens of microseconds to wake; the caller need not wait for that).
     */
    private static final class Worker extends Thread {
        private static final Runnable RUNNING = () -> {};
        private final AtomicReference<Runnable> slot = new AtomicReference<>();
        private volatile boolean parked;
        private volatile Throwable failure;
        private volatile Thread waiter;

        Worker(int index) {
            super("tessera-cpu-" + (index + 1));
            setDaemon(true);
        }

        void hand(Runnable r) {
            failure = null;
            slot.set(r);
            if (parked) LockSupport.unpark(this);
        }

        /** Waits until the task handed last is done, running it here if the worker has not taken it; its exception, or null. */
        Throwable await() {
            Runnable t = slot.get();
            if (t != null && t != RUNNING && slot.compareAndSet(t, RUNNING)) {
                Throwable f = null;
                try {
                    t.run();
                } catch (Throwable e) {
                    f = e;
                }
                slot.set(null);
                return f;
            }
            long start = System.nanoTime();
            while (slot.get() != null) {
                if (System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    waiter = Thread.currentThread();
                    if (slot.get() != null) LockSupport.parkNanos(this, 50_000);
                    waiter = null;
                }
            }
            return failure;
        }

        @Override
        public void run() {
            while (true) {
                Runnable t = slot.get();
                if (t == null || t == RUNNING) {
                    long start = System.nanoTime();
                    while (((t = slot.get()) == null || t == RUNNING) && System.nanoTime() - start < SPIN_NANOS) Thread.onSpinWait();
                    if (t == null || t == RUNNING) {
                        parked = true;
                        while ((t = slot.get()) == null || t == RUNNING) LockSupport.park(this);
                        parked = false;
                    }
                }
                if (!slot.compareAndSet(t, RUNNING)) continue; // the caller took it
                try {
                    t.run();
                } catch (Throwable e) {
                    failure = e;
                }
                slot.set(null); // publishes the chunk's writes and the failure to the caller
                Thread w = waiter;
                if (w != null) LockSupport.unpark(w);
            }
        }
    }
}
