package dev.tessera.runtime.cpu;

/** Elementwise functions of one argument; {@code a} and {@code b} are the op's scalar parameters where it has any. */
public enum UnaryOp {
    NEG, EXP, LOG, LOG1P, SQRT, RSQRT, ABS, TANH, SIGMOID, RELU, GELU_ERF, GELU_TANH, SILU, SOFTPLUS, SIGN,
    /** x^a */
    POW_SCALAR,
    /** min(max(x, a), b) */
    CLAMP,
    /** a·x + b */
    AFFINE,
    /** 1 when x is NaN or infinite (anomaly checks) */
    NONFINITE;

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    /** The function on one value. */
    public double apply(double x, double a, double b) {
        return switch (this) {
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case LOG1P -> Math.log1p(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case ABS -> Math.abs(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> sigmoid(x);
            case RELU -> x > 0 || Double.isNaN(x) ? x : 0; // NaN propagates (PyTorch does; so do the SIMD rows)
            case GELU_ERF -> 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
            case SILU -> x * sigmoid(x);
            case SOFTPLUS -> x > 20 ? x : Math.log1p(Math.exp(x));
            case SIGN -> Math.signum(x);
            case POW_SCALAR -> Math.pow(x, a);
            case CLAMP -> Math.min(Math.max(x, a), b);
            case AFFINE -> a * x + b;
            case NONFINITE -> Double.isFinite(x) ? 0 : 1;
        };
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    }
}
