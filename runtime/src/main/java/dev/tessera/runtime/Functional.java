package dev.tessera.runtime;

import java.util.Arrays;

/** Neural-network functions on tensors: losses, normalisations, dropout and the causal depthwise convolution. */
public final class Functional {
    private Functional() {}

    /** How a loss combines its per-element values. */
    public enum Reduction { MEAN, SUM, NONE }

    /** Cross entropy of {@code logits} [N, C] against class {@code targets} [N], averaged over targets that are not ignored. */
    public static Tensor crossEntropy(Tensor logits, Tensor targets) { return crossEntropy(logits, targets, -100, Reduction.MEAN); }

    /**
     * Cross entropy from logits [..., C] and integer targets [...]. Targets equal to {@code ignoreIndex} contribute
     * nothing, and MEAN divides by the number of the others (0 when all are ignored).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, Reduction reduction) {
        logits.checkAlive("cross_entropy");
        targets.checkAlive("cross_entropy");
        int r = logits.shape.length;
        if (r < 1) throw new IllegalArgumentException("cross_entropy: logits need a class dimension, got shape " + Shape.str(logits.shape));
        int c = logits.shape[r - 1];
        int[] lead = java.util.Arrays.copyOf(logits.shape, r - 1);
        if (!java.util.Arrays.equals(lead, targets.shape)) {
            throw new IllegalArgumentException("cross_entropy: logits " + Shape.str(logits.shape) + " and targets " + Shape.str(targets.shape)
                    + " do not match (targets must be the logits' shape without the class dim)");
        }
        if (!targets.dtype.isIntegral() || targets.dtype == DType.BOOL) {
            throw new IllegalArgumentException("cross_entropy: targets must be integer class indices, got " + targets.dtype);
        }
        long[] t = targets.toLongArray();
        boolean[] keep = new boolean[t.length];
        long[] safe = new long[t.length];
        int kept = 0;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == ignoreIndex) continue;
            if (t[i] < 0 || t[i] >= c) {
                throw new IndexOutOfBoundsException("cross_entropy: target " + t[i] + " out of range for " + c + " classes");
            }
            keep[i] = true;
            safe[i] = t[i];
            kept++;
        }
        Backend backend = Backend.of(logits);
        if (backend.hasFusedCrossEntropy() && logits.dtype.isFloating()) {
            return crossEntropyFused(backend, logits, t, c, lead, ignoreIndex, kept, reduction);
        }
        Tensor logp = logits.reshape(-1, c).logSoftmax(-1);
        Tensor picked = logp.gather(1, Tensor.of(safe, t.length, 1).to(logits.device())).reshape(t.length);
        Tensor mask = Tensor.of(keep, t.length).to(logits.device()).to(logits.dtype);
        Tensor nll = picked.mul(mask).neg();
        return switch (reduction) {
            case NONE -> nll.reshape(lead);
            case SUM -> nll.sum();
            case MEAN -> nll.sum().div(Math.max(1, kept));
        };
    }

    /**
     * Cross entropy with one fused kernel each way (per-row loss and logsumexp; the gradient softmax − one-hot)
     * instead of log-softmax, gather and their backward. Targets arrive validated, as host values.
     */
    private static Tensor crossEntropyFused(Backend backend, Tensor logits, long[] t, int c, int[] lead, long ignoreIndex, int kept,
                                            Reduction reduction) {
        int rows = t.length;
        DType acc = logits.dtype == DType.F64 ? DType.F64 : DType.F32;
        Tensor x = logits.reshape(rows, c).contiguous();
        Tensor targets = Tensor.of(t, rows).to(logits.device());
        Tensor loss = Tensor.allocate(acc, new int[] {rows}, logits.device());
        Tensor lse = Tensor.allocate(acc, new int[] {rows}, logits.device());
        backend.crossEntropy(x, targets, rows, c, ignoreIndex, loss, lse);
        Tensor nll = Autograd.record("cross_entropy", loss, new Tensor[] {x}, new Tensor[] {x, targets, lse}, (g, s) -> {
            Tensor gc = g.to(s[2].dtype).contiguous();
            Tensor dx = Tensor.allocate(s[0].dtype, s[0].shape, s[0].device());
            Backend.of(s[0]).crossEntropyBackward(s[0], s[1], s[2], gc, rows, c, ignoreIndex, dx);
            return new Tensor[] {dx};
        }).to(logits.dtype);
        return switch (reduction) {
            case NONE -> nll.reshape(lead);
            case SUM -> nll.sum();
            case MEAN -> nll.sum().div(Math.max(1, kept));
        };
    }

    /** LayerNorm over the last dimension; {@code weight} and {@code bias} [D] may be null. */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) { return norm("layer_norm", x, weight, bias, eps, false); }

    /** RMSNorm over the last dimension: x / sqrt(mean(x²) + eps) · weight; {@code weight} may be null. */
    public static Tensor rmsNorm(Tensor x, Tensor weight, double eps) { return norm("rms_norm", x, weight, null, eps, true); }

    private static Tensor norm(String op, Tensor x, Tensor w, Tensor b, double eps, boolean rms) {
        x.checkAlive(op);
        if (w != null) w.checkAlive(op);
        if (b != null) b.checkAlive(op);
        if (!x.dtype.isFloating()) throw new IllegalArgumentException(op + ": needs a floating tensor, got " + x.dtype);
        if (x.shape.length == 0) throw new IllegalArgumentException(op + ": needs at least 1 dim");
        int d = x.shape[x.shape.length - 1];
        for (Tensor p : new Tensor[] {w, b}) {
            if (p != null && (p.shape.length != 1 || p.shape[0] != d)) {
                throw new IllegalArgumentException(op + ": weight/bias must be [" + d + "] for input " + Shape.str(x.shape) + ", got " + Shape.str(p.shape));
            }
        }
        Backend.of(op, x, w, b);
        int rows = (int) (x.numel() / Math.max(1, d));
        // Per-row statistics for the backward, in float64 on the input's device (saved with the graph).
        Tensor mean = rms ? null : Tensor.allocate(DType.F64, new int[] {rows}, x.device());
        Tensor rstd = Tensor.allocate(DType.F64, new int[] {rows}, x.device());
        Tensor out = Tensor.allocate(x.dtype, x.shape, x.device());
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor xc = x.contiguous(), wc = w == null ? null : w.contiguous(), bc = b == null ? null : b.contiguous();
            Backend.of(x).normForward(xc, wc, bc, out, mean, rstd, eps, rms);
        }
        boolean hasW = w != null, hasB = b != null;
        DType biasType = hasB ? b.dtype : null; // the bias gradient has the bias's dtype, not the input's
        return Autograd.record(op, out, new Tensor[] {x, w, b}, new Tensor[] {x, w, mean, rstd}, (g, s) -> {
            Tensor dx = Tensor.allocate(s[0].dtype, s[0].shape, s[0].device());
            Tensor dw = hasW ? Tensor.allocate(s[1].dtype, s[1].shape, s[1].device(), true) : null;
            Tensor db = hasB ? Tensor.allocate(biasType, new int[] {d}, s[0].device(), true) : null;
            try (Scope sc = Scope.open()) {
                Tensor xc = s[0].contiguous(), gc = g.contiguous(), wc = hasW ? s[1].contiguous() : null;
                Backend.of(xc).normBackward(xc, wc, gc, s[2], s[3], rms, dx, dw, db);
            }
            return new Tensor[] {dx, dw, db};
        });
    }

    /** Zeroes each element with probability {@code p} and scales the rest by 1/(1−p); the identity when not training. */
    public static Tensor dropout(Tensor x, double p, Generator gen, boolean training) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout: probability must be in [0, 1], got " + p);
        if (!training || p == 0) return x;
        if (p == 1) return x.mul(0);
        Tensor keep;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            keep = s.keep(Tensor.bernoulli(gen, Tensor.full(1 - p, x.dtype, x.device(), x.shape)).mul(1 / (1 - p)));
        }
        return x.mul(keep);
    }

    /**
     * A linear layer, x [..., in] · weightᵀ + bias with weight [out, in] and bias [out] (or null), recorded as one op.
     * Its backward computes the weight's gradient in the weight's own layout as one product over all rows,
     * dW = gᵀ·x [out, in], and the bias's as a sum over rows: composed from {@code matmul(x, weight.t())} and an add,
     * the gradient came from one product per leading index, summed over them, and then reached the weight through the
     * transpose, where a transposed copy made it the weight's {@code .grad}.
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        x.checkAlive("linear");
        weight.checkAlive("linear");
        if (bias != null) bias.checkAlive("linear");
        if (weight.shape.length != 2) throw new IllegalArgumentException("linear: weight must be [out, in], got " + Shape.str(weight.shape));
        int out = weight.shape[0], in = weight.shape[1];
        if (x.shape.length == 0 || x.shape[x.shape.length - 1] != in) {
            throw new IllegalArgumentException("linear: input " + Shape.str(x.shape) + " does not end in " + in + " (weight " + Shape.str(weight.shape) + ")");
        }
        if (bias != null && (bias.shape.length != 1 || bias.shape[0] != out)) {
            throw new IllegalArgumentException("linear: bias must be [" + out + "] for weight " + Shape.str(weight.shape) + ", got " + Shape.str(bias.shape));
        }
        if (weight.dtype != x.dtype || (bias != null && bias.dtype != x.dtype)) {
            throw new IllegalArgumentException("linear: input, weight and bias must share a dtype, got " + x.dtype + ", " + weight.dtype
                    + (bias == null ? "" : ", " + bias.dtype));
        }
        int rows = (int) (x.numel() / Math.max(1, in));
        boolean dx = x.requiresGrad, dw = weight.requiresGrad, db = bias != null && bias.requiresGrad;
        if (Autocast.active() && !x.device().isCpu() && x.dtype == DType.F32 && x.shape.length >= 2) {
            return linearBf16(x, weight, bias, rows, in, out, dx, dw, db);
        }
        Tensor y;
        try (Grad.Region g = Grad.noGrad()) {
            y = x.matmul(weight.t());
            if (bias != null) y.addInPlace(bias);
        }
        return Autograd.record("linear", y, new Tensor[] {x, weight, bias}, new Tensor[] {x, weight}, (g, s) -> {
            Tensor g2 = g.reshape(rows, out);
            return new Tensor[] {
                dx ? g.matmul(s[1]) : null,
                dw ? weightGradient(g2, s[0].reshape(rows, in)) : null,
                db ? g2.sum(0) : null};
        });
    }

    /**
     * The linear layer under {@link Autocast} on CUDA: x and the weight are cast to BF16 once, and those copies are
     * what the backward keeps; the incoming gradient is cast once for both products. Every product runs on the tensor
     * cores with an F32 result: y, dx and dW (in the weight's own [out, in] layout, one product over all rows), so the
     * F32 parameters get F32 gradients. Three casts per layer and step instead of the six that the composed
     * {@code x.matmul(w.t())} takes, and no batched weight gradient to sum.
     */
    private static Tensor linearBf16(Tensor x, Tensor weight, Tensor bias, int rows, int in, int out, boolean dx, boolean dw, boolean db) {
        Tensor xb, wb, y;
        try (Grad.Region g = Grad.noGrad()) {
            xb = x.to(DType.BF16);
            wb = weight.to(DType.BF16);
            y = Linalg.productNoGrad(xb, wb.t(), DType.F32);
            if (bias != null) y.addInPlace(bias);
        }
        return Autograd.record("linear", y, new Tensor[] {x, weight, bias}, new Tensor[] {xb, wb}, (g, s) -> {
            Tensor gb = g.to(DType.BF16), g2 = gb.reshape(rows, out);
            return new Tensor[] {
                dx ? Linalg.productNoGrad(gb, s[1], DType.F32) : null,
                dw ? Linalg.productNoGrad(g2.t(), s[0].reshape(rows, in), DType.F32) : null,
                db ? g.reshape(rows, out).sum(0) : null};
        });
    }

    /**
     * A linear layer's dW = gᵀ·x [out, in] from g [rows, out] and x [rows, in]. The CPU GEMM copies a transposed
     * operand row by row into its panels, so with out &gt; in it is cheaper as (xᵀ·g)ᵀ, transposing the narrower x and
     * then the small [in, out] result (hnet-tiny's input projection: 64 columns packed instead of 296). The same
     * products in the same order either way; cuBLAS takes transposes for free, so a GPU keeps the direct form.
     */
    private static Tensor weightGradient(Tensor g, Tensor x) {
        if (!g.device().isCpu() || g.size(1) <= x.size(1)) return g.t().matmul(x);
        return x.t().matmul(g).t().contiguous();
    }

    /**
     * Causal depthwise 1-D convolution, channels last: x [B, L, C], weight [C, K], bias [C] or null;
     * y[b,t,c] = bias[c] + Σ_j weight[c,j]·x[b, t−K+1+j, c] with zeros before t = 0.
     */
    public static Tensor causalConv1d(Tensor x, Tensor weight, Tensor bias) {
        return causalConv1d(x, weight, bias, null);
    }

    /**
     * {@link #causalConv1d(Tensor, Tensor, Tensor)} over packed sequences: with {@code cuSeqlens} = {0, e₁, …, L}
     * (document i spans [cuSeqlens[i], cuSeqlens[i+1])), x must be [1, L, C] and every tap that would read
     * before the start of its own document reads zero instead, exactly as if each document were convolved
     * on its own. Gradients (x, weight, bias) honour the same boundaries. {@code null} means no packing.
     *
     * @throws IllegalArgumentException if B ≠ 1 with packing, or cuSeqlens does not start at 0, end at L and
     *     never decrease (empty documents are allowed)
     */
    public static Tensor causalConv1d(Tensor x, Tensor weight, Tensor bias, int[] cuSeqlens) {
        x.checkAlive("causal_conv1d");
        weight.checkAlive("causal_conv1d");
        if (bias != null) bias.checkAlive("causal_conv1d");
        if (x.shape.length != 3) throw new IllegalArgumentException("causal_conv1d: x must be [B, L, C], got " + Shape.str(x.shape));
        int bsz = x.shape[0], len = x.shape[1], ch = x.shape[2];
        if (weight.shape.length != 2 || weight.shape[0] != ch) {
            throw new IllegalArgumentException("causal_conv1d: weight must be [C, K] = [" + ch + ", K] for x " + Shape.str(x.shape)
                    + ", got " + Shape.str(weight.shape));
        }
        if (bias != null && (bias.shape.length != 1 || bias.shape[0] != ch)) {
            throw new IllegalArgumentException("causal_conv1d: bias must be [" + ch + "], got " + Shape.str(bias.shape));
        }
        // Copied so that a caller mutating its array after the call cannot change what backward sees.
        int[] cu = cuSeqlens == null ? null : checkCuSeqlens("causal_conv1d", cuSeqlens.clone(), bsz, len);
        Backend.of("causal_conv1d", x, weight, bias);
        int k = weight.shape[1];
        Tensor y = Tensor.allocate(x.dtype, x.shape, x.device());
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor xc = channelsContiguous(x), wc = weight.contiguous(), bc = bias == null ? null : bias.contiguous();
            Backend.of(x).conv1dForward(xc, wc, bc, y, cu);
        }
        boolean hasBias = bias != null;
        return Autograd.record("causal_conv1d", y, new Tensor[] {x, weight, bias}, new Tensor[] {x, weight}, (g, s) -> {
            Tensor dest = Autograd.destination(0); // both kernels write rows of any stride, channels contiguous
            Tensor dx = dest != null && dest.device().equals(s[0].device()) && dest.dtype == s[0].dtype
                    && channelsContiguous(dest.shape, dest.strides)
                    ? dest : Tensor.allocate(s[0].dtype, s[0].shape, s[0].device());
            Tensor dw = Tensor.allocate(s[1].dtype, s[1].shape, s[1].device());
            Tensor db = hasBias ? Tensor.allocate(s[1].dtype, new int[] {ch}, s[1].device()) : null;
            try (Scope sc = Scope.open()) {
                Tensor xc = channelsContiguous(s[0]), wc = s[1].contiguous(), gc = g.contiguous();
                Backend.of(xc).conv1dBackward(xc, wc, gc, dx, dw, db, cu);
            }
            return new Tensor[] {dx, dw, db};
        });
    }

    /** x as the conv kernels read it without a copy (channels contiguous, any other non-negative strides). */
    private static Tensor channelsContiguous(Tensor x) { return channelsContiguous(x.shape, x.strides) ? x : x.contiguous(); }

    private static boolean channelsContiguous(int[] shape, long[] strides) {
        return (strides[2] == 1 || shape[2] == 1) && strides[1] >= 0 && strides[0] >= 0;
    }

    /**
     * Validates packed-sequence offsets for a [B, L, …] input: B must be 1, and cuSeqlens must hold at least two
     * entries, start at 0, end at L and never decrease. Returns {@code cu} for chaining.
     */
    private static int[] checkCuSeqlens(String op, int[] cu, int batch, int len) {
        if (batch != 1) throw new IllegalArgumentException(op + ": packed sequences (cuSeqlens) need batch 1, got B = " + batch);
        if (cu.length < 2) {
            throw new IllegalArgumentException(op + ": cuSeqlens needs at least {0, L}, got " + Arrays.toString(cu));
        }
        if (cu[0] != 0) throw new IllegalArgumentException(op + ": cuSeqlens must start at 0, got " + Arrays.toString(cu));
        if (cu[cu.length - 1] != len) {
            throw new IllegalArgumentException(op + ": cuSeqlens must end at L = " + len + ", got " + Arrays.toString(cu));
        }
        for (int i = 1; i < cu.length; i++) {
            if (cu[i] < cu[i - 1]) {
                throw new IllegalArgumentException(op + ": cuSeqlens must not decrease, got " + Arrays.toString(cu)
                        + " (index " + i + ")");
            }
        }
        return cu;
    }
}
