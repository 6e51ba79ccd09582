package dev.tessera.jmh;

import dev.tessera.runtime.cpu.CpuPool;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One small parallel op handed to a second thread, as a training or decoding step makes hundreds of: two halves of
 * a sum over {@code work} floats, after {@code gapMicros} of sequential work on the calling thread (the time between
 * two parallel ops, in which a waiting worker may have parked). {@code tessera} uses {@link CpuPool};
 * {@code forkJoin} the same split on a {@link ForkJoinPool} of one worker (what {@code CpuPool} was before):
 * submit the second half, run the first, join.
 */
public class CpuPoolBench extends JmhDefaults {
    @Param({"4096"})
    public int work;
    @Param({"0", "50"})
    public int gapMicros;

    private float[] data;
    private ForkJoinPool pool;
    private final double[] halves = new double[2];

    @Setup
    public void setup() {
        data = new float[work];
        for (int i = 0; i < work; i++) data[i] = i % 7;
        pool = new ForkJoinPool(1);
    }

    @TearDown
    public void tearDown() { pool.shutdownNow(); }

    private void gap() {
        long start = System.nanoTime();
        while (System.nanoTime() - start < gapMicros * 1000L) Thread.onSpinWait();
    }

    private void sum(long from, long to, int slot) {
        double s = 0;
        for (int i = (int) from; i < to; i++) s += data[i];
        halves[slot] = s;
    }

    @Benchmark
    public double tessera() {
        gap();
        CpuPool.parallelFor(work, work / 2, (s, e) -> sum(s, e, s == 0 ? 0 : 1));
        return halves[0] + halves[1];
    }

    @Benchmark
    public double forkJoin() {
        gap();
        ForkJoinTask<?> second = pool.submit(() -> sum(work / 2, work, 1));
        sum(0, work / 2, 0);
        second.join();
        return halves[0] + halves[1];
    }
}
