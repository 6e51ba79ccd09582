package dev.tessera.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/** The pool's contract: fixed chunks, each index once, failures surface, nested and concurrent calls keep the chunks. */
class CpuPoolTest {
    /** The chunk boundaries parallelFor promises: n·c/chunks for c = 0..chunks. */
    private static List<String> expectedChunks(long n, long grain) {
        int chunks = CpuPool.chunkCount(n, grain);
        java.util.ArrayList<String> out = new java.util.ArrayList<>();
        for (int c = 0; c < chunks; c++) out.add((n * c / chunks) + ".." + (n * (c + 1) / chunks));
        return out;
    }

    private static List<String> chunksOf(long n, long grain) {
        ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
        CpuPool.parallelFor(n, grain, (s, e) -> seen.add(s + ".." + e));
        return seen.stream().sorted(java.util.Comparator.comparingLong(x -> Long.parseLong(x.substring(0, x.indexOf('.'))))).toList();
    }

    @Test
    void everyIndexOnceInFixedChunks() throws InterruptedException {
        for (long n : new long[] {1, 2, 7, 1000, 1 << 20}) {
            AtomicLongArray hits = new AtomicLongArray((int) n);
            CpuPool.parallelFor(n, 1, (s, e) -> { for (long i = s; i < e; i++) hits.incrementAndGet((int) i); });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "index " + i + " of " + n);
            assertEquals(expectedChunks(n, 1), chunksOf(n, 1));
        }
        // After a pause longer than the workers spin, they are parked and must still be woken.
        Thread.sleep(5 + CpuPool.SPIN_NANOS / 1_000_000);
        assertEquals(expectedChunks(999, 1), chunksOf(999, 1));
    }

    @Test
    void failuresOfAnyChunkSurface() {
        IllegalStateException boom = new IllegalStateException("boom");
        long n = 1000;
        long last = n * (CpuPool.chunkCount(n, 1) - 1) / CpuPool.chunkCount(n, 1); // the last chunk's start: a worker's, with two threads or more
        assertSame(boom, assertThrows(IllegalStateException.class, () -> CpuPool.parallelFor(n, 1, (s, e) -> { if (s == last) throw boom; })));
        assertThrows(AssertionError.class, () -> CpuPool.parallelFor(n, 1, (s, e) -> { if (s == last) throw new AssertionError("x"); }));
        // With the worker parked the caller usually runs the handed chunk itself: its failure surfaces the same way.
        for (int i = 0; i < 3; i++) {
            try {
                Thread.sleep(2 + CpuPool.SPIN_NANOS / 1_000_000);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            assertSame(boom, assertThrows(IllegalStateException.class, () -> CpuPool.parallelFor(n, 1, (s, e) -> { if (s == last) throw boom; })));
        }
        // the pool still works afterwards
        assertEquals(expectedChunks(n, 1), chunksOf(n, 1));
    }

    @Test
    void nestedAndConcurrentCallsKeepTheirChunks() throws Exception {
        ConcurrentLinkedQueue<List<String>> inner = new ConcurrentLinkedQueue<>();
        CpuPool.parallelFor(100, 1, (s, e) -> inner.add(chunksOf(64, 1)));
        for (List<String> l : inner) {
            // inside a worker a call runs as one range; on the calling thread as the same chunks, one after another
            assertTrue(l.equals(List.of("0..64")) || l.equals(expectedChunks(64, 1)), l.toString());
        }
        Thread[] threads = new Thread[3];
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        for (int t = 0; t < threads.length; t++) {
            threads[t] = new Thread(() -> {
                try {
                    for (int i = 0; i < 300; i++) {
                        AtomicLongArray hits = new AtomicLongArray(257);
                        CpuPool.parallelFor(257, 1, (s, e) -> { for (long k = s; k < e; k++) hits.incrementAndGet((int) k); });
                        for (int k = 0; k < 257; k++) if (hits.get(k) != 1) throw new AssertionError("index " + k + " ran " + hits.get(k) + " times");
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            threads[t].start();
        }
        for (Thread t : threads) t.join();
        assertTrue(errors.isEmpty(), errors.toString());
    }
}
