package dev.tessera.runtime;

/**
 * Mixed precision for CUDA. Inside {@code try (var a = Autocast.bf16()) { ... }} a matrix product of F32 CUDA tensors
 * casts both operands to BF16 (recorded casts, so gradients flow back to the F32 master weights), multiplies on the
 * tensor cores with F32 accumulation, and returns F32. CPU tensors are unaffected. Scopes nest per thread.
 *
 * <p>{@link #allowTf32(boolean)} separately lets plain F32 CUDA products use TF32 tensor cores (10-bit mantissa inputs,
 * F32 accumulation); it is off by default so that F32 means F32.
 */
public final class Autocast implements AutoCloseable {
    private static final ThreadLocal<Integer> DEPTH = ThreadLocal.withInitial(() -> 0);
    private static volatile boolean tf32;

    private boolean closed;

    private Autocast() { DEPTH.set(DEPTH.get() + 1); }

    /** Opens a BF16 autocast region on this thread. */
    public static Autocast bf16() { return new Autocast(); }

    /** True inside an autocast region on this thread. */
    public static boolean active() { return DEPTH.get() > 0; }

    /** Lets F32 products on CUDA use TF32 tensor cores (process-wide). */
    public static void allowTf32(boolean allow) { tf32 = allow; }

    public static boolean tf32Allowed() { return tf32; }

    @Override public void close() {
        if (closed) return;
        closed = true;
        DEPTH.set(DEPTH.get() - 1);
    }
}
