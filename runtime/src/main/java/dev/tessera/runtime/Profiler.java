package dev.tessera.runtime;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per-op profiling: when enabled, every backend kernel adds its call count and wall time under its op name, and the
 * matrix products their floating-point operations (2·m·n·k each), so that a profile shows the rate they ran at and a
 * model's counted compute can be checked against what it multiplied. Off by default; when off the hook costs one
 * volatile read.
 */
public final class Profiler {
    private static volatile boolean enabled;
    private static final Map<String, LongAdder[]> STATS = new ConcurrentHashMap<>();

    private Profiler() {}

    /** Calls, total nanoseconds and floating-point operations (0 for an op that does not count them) of one op. */
    public record OpStats(long calls, long nanos, long flops) {
        public double millis() { return nanos / 1e6; }

        /** Billions of floating-point operations per second of the op's own time; NaN when it counts none. */
        public double gflopsPerSecond() { return flops == 0 || nanos == 0 ? Double.NaN : (double) flops / nanos; }
    }

    public static void enable() { enabled = true; }

    public static void disable() { enabled = false; }

    public static boolean isEnabled() { return enabled; }

    /** Clears all counters. */
    public static void reset() { STATS.clear(); }

    /** The counters so far, by op name. */
    public static Map<String, OpStats> snapshot() {
        Map<String, OpStats> out = new TreeMap<>();
        STATS.forEach((k, v) -> out.put(k, new OpStats(v[0].sum(), v[1].sum(), v[2].sum())));
        return out;
    }

    /** Start of a timed region: 0 when profiling is off. */
    static long start() { return enabled ? System.nanoTime() : 0; }

    /** End of a timed region started by {@link #start()}. */
    static void stop(String op, long start) { stop(op, start, 0); }

    /** End of a timed region that performed {@code flops} floating-point operations. */
    static void stop(String op, long start, long flops) {
        if (start == 0) return;
        long dt = System.nanoTime() - start;
        LongAdder[] a = STATS.computeIfAbsent(op, k -> new LongAdder[] {new LongAdder(), new LongAdder(), new LongAdder()});
        a[0].increment();
        a[1].add(dt);
        a[2].add(flops);
    }

    /** A matrix product's floating-point operations: a multiply and an add for each of m·n·k products. */
    static long productFlops(long batch, long m, long n, long k) { return 2 * batch * m * n * k; }
}
