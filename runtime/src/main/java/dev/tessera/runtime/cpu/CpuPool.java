package dev.tessera.runtime.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * The one thread pool of the CPU backend, sized to the cores. Work is split into contiguous chunks
 * whose boundaries depend only on the problem size and the pool size, never on timing, so that
 * parallel reductions are reproducible run to run.
 */
public final class CpuPool {
    private static final int THREADS = Integer.getInteger("tessera.threads", Runtime.getRuntime().availableProcessors());
    private static final ForkJoinPool POOL = new ForkJoinPool(Math.max(1, THREADS), pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("tessera-cpu-" + t.getPoolIndex());
        t.setDaemon(true);
        return t;
    }, null, false);

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
        if (chunks <= 1 || Thread.currentThread() instanceof ForkJoinWorkerThread) {
            body.run(0, n);
            return;
        }
        @SuppressWarnings("unchecked")
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            long s = n * c / chunks, e = n * (c + 1) / chunks;
            tasks[c - 1] = POOL.submit(() -> body.run(s, e));
        }
        RuntimeException first = null;
        try {
            body.run(0, n / chunks);
        } catch (RuntimeException ex) {
            first = ex;
        }
        for (ForkJoinTask<?> t : tasks) {
            try {
                t.join();
            } catch (RuntimeException ex) {
                if (first == null) first = ex;
            }
        }
        if (first != null) throw first;
    }

    /** Splits {@code [0, n)} into chunk boundaries the same way {@link #parallelFor} does, for fixed-order reductions. */
    public static int chunkCount(long n, long grain) {
        return (int) Math.min(THREADS, Math.max(1, n / Math.max(1, grain)));
    }
}
