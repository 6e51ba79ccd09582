package dev.tessera.runtime;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Per-op profiling: when enabled, every backend kernel adds its call count and wall time under its op name.
 * Off by default; when off the hook costs one volatile read.
 */
public final class Profiler {
    private static volatile boolean enabled;
    private static final Map<String, LongAdder[]> STATS = new ConcurrentHashMap<>();

    private Profiler() {}

    /** Calls and total nanoseconds of one op. */
    public record OpStats(long calls, long nanos) {
        public double millis() { return nanos / 1e6; }
    }

    public static void enable() { enabled = true; }

    public static void disable() { enabled = false; }

    public static boolean isEnabled() { return enabled; }

    /** Clears all counters. */
    public static void reset() { STATS.clear(); }

    /** The counters so far, by op name. */
    public static Map<String, OpStats> snapshot() {
        Map<String, OpStats> out = new TreeMap<>();
        STATS.forEach((k, v) -> out.put(k, new OpStats(v[0].sum(), v[1].sum())));
        return out;
    }

    /** Start of a timed region: 0 when profiling is off. */
    static long start() { return enabled ? System.nanoTime() : 0; }

    /** End of a timed region started by {@link #start()}. */
    static void stop(String op, long start) {
        if (start == 0) return;
        long dt = System.nanoTime() - start;
        LongAdder[] a = STATS.computeIfAbsent(op, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
        a[0].increment();
        a[1].add(dt);
    }
}
