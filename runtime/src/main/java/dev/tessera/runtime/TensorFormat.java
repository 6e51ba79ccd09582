package dev.tessera.runtime;

import java.util.Locale;

/** The readable text form of a tensor; large tensors show the first and last three entries per dimension. */
final class TensorFormat {
    private TensorFormat() {}

    private static final int SUMMARY_THRESHOLD = 1000, EDGE = 3;

    static String format(Tensor t) {
        StringBuilder sb = new StringBuilder("tensor(");
        boolean summarize = t.numel() > SUMMARY_THRESHOLD;
        double[] vals;
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            vals = t.numel() <= SUMMARY_THRESHOLD ? t.toDoubleArray() : null;
        }
        int[] idx = new int[t.shape.length];
        append(sb, t, 0, idx, vals, summarize, "       ");
        sb.append(", shape=").append(Shape.str(t.shape)).append(", dtype=").append(t.dtype);
        if (!t.device().isCpu()) sb.append(", device=").append(t.device());
        if (t.requiresGrad) sb.append(t.gradFn != null ? ", grad_fn=" + t.gradFn.op : ", requires_grad");
        return sb.append(')').toString();
    }

    private static void append(StringBuilder sb, Tensor t, int d, int[] idx, double[] vals, boolean summarize, String indent) {
        if (d == t.shape.length) {
            double v = vals != null ? vals[flat(t.shape, idx)] : t.get(idx);
            sb.append(value(v, t.dtype));
            return;
        }
        sb.append('[');
        int n = t.shape[d];
        for (int i = 0; i < n; i++) {
            if (summarize && n > 2 * EDGE && i == EDGE) {
                sb.append(d == t.shape.length - 1 ? "..., " : "...,\n" + indent + " ".repeat(d + 1));
                i = n - EDGE;
            }
            idx[d] = i;
            append(sb, t, d + 1, idx, vals, summarize, indent);
            if (i < n - 1) sb.append(d == t.shape.length - 1 ? ", " : ",\n" + indent + " ".repeat(d + 1));
        }
        sb.append(']');
    }

    private static int flat(int[] shape, int[] idx) {
        int f = 0;
        for (int i = 0; i < shape.length; i++) f = f * shape[i] + idx[i];
        return f;
    }

    private static String value(double v, DType dt) {
        if (dt == DType.BOOL) return v != 0 ? "true" : "false";
        if (dt.isIntegral()) return Long.toString((long) v);
        if (Double.isNaN(v) || Double.isInfinite(v)) return Double.toString(v);
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
