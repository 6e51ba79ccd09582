package dev.tessera.nn;

/** A learning rate as a function of the step (0-based). */
@FunctionalInterface
public interface LrSchedule {
    double at(long step);

    /** Linear warm-up to {@code peak}, then cosine decay to {@code peak·minRatio} at {@code total}. */
    static LrSchedule warmupCosine(double peak, long warmup, long total, double minRatio) {
        check(warmup, total);
        return step -> {
            if (step < warmup) return peak * (step + 1) / warmup;
            double progress = Math.min(1, (double) (step - warmup) / Math.max(1, total - warmup));
            return peak * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
        };
    }

    /**
     * Warmup-stable-decay, as in H-Net's recipe (arXiv 2507.07955): linear warm-up over {@code warmupFraction} of
     * {@code total}, constant at {@code peak}, then an inverse-square-root decay to 0 over the last
     * {@code decayFraction} with the "1 − √" cooldown of Hägele et al. (arXiv 2405.18392):
     * lr = peak·(1 − √((step − decayStart)/decaySteps)).
     */
    static LrSchedule warmupStableDecay(double peak, long total, double warmupFraction, double decayFraction) {
        if (warmupFraction < 0 || decayFraction < 0 || warmupFraction + decayFraction > 1) {
            throw new IllegalArgumentException("WSD: fractions " + warmupFraction + " + " + decayFraction + " must lie in [0, 1]");
        }
        long warmup = Math.round(total * warmupFraction), decay = Math.round(total * decayFraction), decayStart = total - decay;
        return step -> {
            if (step < warmup) return peak * (step + 1) / warmup;
            if (step < decayStart || decay == 0) return peak;
            double progress = Math.min(1, (double) (step - decayStart) / decay);
            return peak * (1 - Math.sqrt(progress));
        };
    }

    /**
     * The warmup-stable-decay shape of {@link #warmupStableDecay} at a continuous {@code progress} in [0, 1] (for
     * instance the share of a time budget spent, where the number of steps is not known in advance): linear warm-up
     * over the first {@code warmupFraction} (from peak/100, so the first update is not wasted), {@code peak}, then
     * peak·(1 − √((progress − decayStart)/decayFraction)) down to 0 at progress 1; 0 past it.
     */
    static double warmupStableDecayAt(double peak, double progress, double warmupFraction, double decayFraction) {
        if (warmupFraction < 0 || decayFraction < 0 || warmupFraction + decayFraction > 1) {
            throw new IllegalArgumentException("WSD: fractions " + warmupFraction + " + " + decayFraction + " must lie in [0, 1]");
        }
        if (!(progress >= 0)) throw new IllegalArgumentException("WSD: progress must be >= 0, got " + progress);
        if (progress >= 1) return 0;
        if (progress < warmupFraction) return peak * Math.max(progress / warmupFraction, 0.01);
        double decayStart = 1 - decayFraction;
        if (progress < decayStart || decayFraction == 0) return peak;
        return peak * (1 - Math.sqrt((progress - decayStart) / decayFraction));
    }

    /** A constant learning rate. */
    static LrSchedule constant(double lr) { return step -> lr; }

    private static void check(long warmup, long total) {
        if (warmup < 0 || total <= 0 || warmup > total) {
            throw new IllegalArgumentException("schedule: need 0 <= warmup <= total and total > 0, got warmup " + warmup + ", total " + total);
        }
    }
}
