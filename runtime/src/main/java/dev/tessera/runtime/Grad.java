package dev.tessera.runtime;

/**
 * Switches of the autograd engine: gradient recording (on by default, per thread) and anomaly mode
 * (off by default, global), which checks every op's output and every gradient for NaN and Inf and
 * names the first op that produced one.
 */
public final class Grad {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});
    private static volatile boolean anomaly;

    private Grad() {}

    /** A region in which no op records a graph: {@code try (var g = Grad.noGrad()) { ... }}. */
    public static Region noGrad() { return set(false); }

    /** A region in which ops record a graph again, inside an outer {@link #noGrad()}. */
    public static Region enableGrad() { return set(true); }

    /** A closeable region whose {@code close} never throws a checked exception. */
    public interface Region extends AutoCloseable {
        @Override void close();
    }

    private static Region set(boolean on) {
        boolean[] flag = ENABLED.get();
        boolean previous = flag[0];
        flag[0] = on;
        return () -> flag[0] = previous;
    }

    /** True when ops on this thread record the autograd graph. */
    public static boolean isEnabled() { return ENABLED.get()[0]; }

    /** Turns anomaly detection on or off for all threads. */
    public static void setAnomalyDetection(boolean on) { anomaly = on; }

    public static boolean isAnomalyDetectionEnabled() { return anomaly; }
}
