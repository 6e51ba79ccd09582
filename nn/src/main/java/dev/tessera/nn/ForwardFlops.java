package dev.tessera.nn;

/**
 * The floating-point operations of a forward pass, by kind, counting a multiply and an add as two: {@code matmul}
 * the linear layers' products (2·in·out per position), {@code attention} the scores and their weighted sum (4·D per
 * query–key pair), {@code convolution} the depthwise causal convolutions (2·width per channel and position),
 * {@code scan} the selective scan (5 per state element and position: the decay, the input and the sum into the
 * state, and the read-out's multiply-add). Elementwise ops, norms and lookups (O(D) per position) are left out, as
 * compute counts of language models usually leave them out.
 */
public record ForwardFlops(double matmul, double attention, double convolution, double scan) {
    public static final ForwardFlops NONE = new ForwardFlops(0, 0, 0, 0);

    public static ForwardFlops matmul(double flops) { return new ForwardFlops(flops, 0, 0, 0); }

    public ForwardFlops plus(ForwardFlops o) {
        return new ForwardFlops(matmul + o.matmul, attention + o.attention, convolution + o.convolution, scan + o.scan);
    }

    public ForwardFlops times(double factor) {
        return new ForwardFlops(matmul * factor, attention * factor, convolution * factor, scan * factor);
    }

    public double total() { return matmul + attention + convolution + scan; }

    /**
     * Query–key pairs of causal attention over {@code length} positions when each sees itself and the {@code window}
     * previous ones (−1: all previous ones): Σᵢ min(i + 1, window + 1), for a fractional length too (an average
     * chunk count), where it interpolates the same closed form.
     */
    public static double causalPairs(double length, int window) {
        if (length <= 0) return 0;
        if (window < 0 || length <= window + 1) return length * (length + 1) / 2;
        double full = window + 1;
        return full * (full + 1) / 2 + (length - full) * full;
    }
}
