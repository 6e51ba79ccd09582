package dev.tessera.models.hnet;

import dev.tessera.kernels.routing.Routing;
import dev.tessera.models.BoundaryPlacement;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;

/**
 * The fixed routing of {@link HNetConfig.Boundaries#WHITESPACE}: a chunk starts at position 0 and at every whitespace
 * byte. In the form the learned routing takes, p = 1 at a boundary and 0 elsewhere (so dechunking does not smooth:
 * P = 1 − 1e−4), b = p > 0.5 and the confidence c = 1; none of them depends on a parameter.
 */
final class WhitespaceRouting {
    private WhitespaceRouting() {}

    /** Routing of bytes [B, L] (I64), with p and c of {@code dtype} on {@code device}. */
    static Routing of(Tensor bytes, DType dtype, Device device) {
        int b = bytes.size(0), l = bytes.size(1);
        long[] v = bytes.toLongArray();
        boolean[] starts = new boolean[v.length];
        for (int i = 0; i < v.length; i++) starts[i] = i % l == 0 || BoundaryPlacement.isWhitespace(v[i]);
        return fromStarts(starts, new int[] {b, l}, dtype, device);
    }

    /** For one new byte per row, bytes [B]: which rows start a chunk by the rule (their first byte aside). */
    static boolean[] starts(Tensor bytes) {
        long[] v = bytes.toLongArray();
        boolean[] starts = new boolean[v.length];
        for (int r = 0; r < v.length; r++) starts[r] = BoundaryPlacement.isWhitespace(v[r]);
        return starts;
    }

    private static Routing fromStarts(boolean[] starts, int[] shape, DType dtype, Device device) {
        double[] p = new double[starts.length];
        for (int i = 0; i < p.length; i++) p[i] = starts[i] ? 1 : 0;
        Tensor pt = Tensor.of(p, shape).to(dtype).to(device);
        Tensor bt = Tensor.of(starts, shape).to(device);
        Tensor ct = Tensor.ones(shape).to(dtype).to(device);
        return new Routing(pt, bt, ct);
    }
}
