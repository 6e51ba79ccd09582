package dev.tessera.runtime.cpu;

/** The error function, to double precision, for GELU (the JDK has none). */
final class Erf {
    private Erf() {}

    /**
     * erf(x): its Maclaurin series for |x| &lt; 2.5 and the classical continued fraction of erfc beyond,
     * both in double; the relative error is below 1e-12 everywhere.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 2.5) {
            // Maclaurin series: erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)); converges fast for |x| < 2.5.
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 80; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            double r = 2 / Math.sqrt(Math.PI) * sum;
            return x < 0 ? -r : r;
        }
        if (ax > 6) return x < 0 ? -1 : 1;
        // Continued fraction for erfc (Lentz's method), accurate for |x| ≥ 2.5.
        double r = 1 - erfcContinuedFraction(ax);
        return x < 0 ? -r : r;
    }

    private static double erfcContinuedFraction(double x) {
        // erfc x = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))
        double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 200; n++) {
            double an = n / 2.0;
            d = x + an * d;
            d = Math.abs(d) < tiny ? tiny : d;
            c = x + an / c;
            c = Math.abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1) < 1e-16) break;
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }
}
