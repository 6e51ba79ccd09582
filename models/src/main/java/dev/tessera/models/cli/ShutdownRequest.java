package dev.tessera.models.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (SIGINT) or a plain {@code kill} (SIGTERM) during training. The JVM then runs its shutdown hooks and exits
 * when they return, so the hook here asks the training loop to stop after the step it is in and waits until that
 * step's checkpoint is written (at most {@link #WAIT_SECONDS}): an interrupted run loses at most the step in flight,
 * and {@code --resume} continues it as if it had been stopped with {@code --stop-after}.
 */
final class ShutdownRequest implements AutoCloseable {
    /** How long the JVM's exit waits for the step in flight and its checkpoint. */
    static final long WAIT_SECONDS = 120;

    private final Thread hook;
    private final CountDownLatch settled = new CountDownLatch(1);
    private volatile boolean requested;

    ShutdownRequest() {
        hook = new Thread(() -> {
            requested = true;
            try {
                settled.await(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "tessera-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** Whether the process was asked to exit. */
    boolean requested() { return requested; }

    /** The run is settled (its checkpoint written, or it ended): the JVM may exit; no longer a hook. */
    @Override
    public void close() {
        settled.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running and returns now
        }
    }
}
