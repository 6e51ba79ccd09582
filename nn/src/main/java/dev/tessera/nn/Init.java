package dev.tessera.nn;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * Parameter initialisers, all seeded through a {@link Generator}. Inside {@link #forLoading()} they draw nothing and
 * give zeros: a model built only to have every parameter overwritten by a checkpoint skips the draws (about 10 s for
 * the 680 M parameters of {@code hnet-1stage-L} on 2 cores, each weight drawn twice).
 */
public final class Init {
    private Init() {}

    private static final ThreadLocal<Boolean> LOADING = ThreadLocal.withInitial(() -> false);

    /** While open, on this thread, the initialisers give zeros instead of drawing from their generators. */
    public static final class LoadingRegion implements AutoCloseable {
        private final boolean previous;

        private LoadingRegion(boolean previous) { this.previous = previous; }

        @Override public void close() { LOADING.set(previous); }
    }

    /**
     * A region for building a model whose parameters a strict state-dict load will all overwrite: initialisers there
     * allocate zeros and leave their generators untouched. Anything not overwritten stays zero, so use it only with a
     * load that refuses missing parameters.
     */
    public static LoadingRegion forLoading() {
        LoadingRegion r = new LoadingRegion(LOADING.get());
        LOADING.set(true);
        return r;
    }

    /** Whether this thread is inside {@link #forLoading()}. */
    public static boolean isLoading() { return LOADING.get(); }

    /** N(0, std²). */
    public static Tensor normal(Generator gen, double std, int... shape) {
        if (isLoading()) return Tensor.zeros(shape);
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return s.keep(Tensor.randn(gen, shape).mul(std));
        }
    }

    /** U(−bound, bound). */
    public static Tensor uniform(Generator gen, double bound, int... shape) {
        if (isLoading()) return Tensor.zeros(shape);
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            return s.keep(Tensor.rand(gen, shape).mul(2 * bound).sub(bound));
        }
    }

    /** Re-initialises {@code p} with N(0, std²) in place. */
    public static void normal(Parameter p, Generator gen, double std) {
        if (isLoading()) return; // p keeps the zeros it was built with
        try (Scope s = Scope.open()) {
            p.set(normal(gen, std, p.shape()));
        }
    }

    /** Sets {@code p} to a constant. */
    public static void constant(Parameter p, double v) {
        try (Scope s = Scope.open()) {
            p.set(Tensor.full(v, DType.F32, p.shape()));
        }
    }
}
