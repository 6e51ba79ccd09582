package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A pending gradient assembled from the backward passes of narrows of one tensor (a projection split into its
 * parts, say): its memory starts uninitialised, each slice is copied into a part no slice has written yet, and only
 * what no slice covered is zeroed, once, before anything reads it. Zero-filling the whole buffer first and adding
 * every slice into it cost a full extra write and read of the gradient per split.
 */
final class PartialGradient {
    private final Tensor buffer;
    private final int dim;
    /** Written intervals [start, end) along {@link #dim}, disjoint. */
    private final List<int[]> written = new ArrayList<>();

    private PartialGradient(Tensor buffer, int dim) {
        this.buffer = buffer;
        this.dim = dim;
    }

    /** A fresh uninitialised buffer of the input's shape, holding slice {@code s} = {@code g}; null when s has a stride. */
    static PartialGradient start(Tensor input, Node.Slice s, Tensor g) {
        if (s.step() != 1) return null;
        PartialGradient pg = new PartialGradient(Tensor.allocate(input.dtype, input.shape, g.device()), s.dim());
        pg.tryCopy(s, g);
        return pg;
    }

    Tensor buffer() { return buffer; }

    /** Copies {@code g} into slice {@code s} when that part is unwritten (same dimension, unit step); else false. */
    boolean tryCopy(Node.Slice s, Tensor g) {
        if (s.dim() != dim || s.step() != 1) return false;
        int start = s.start(), end = s.start() + s.length();
        for (int[] w : written) if (start < w[1] && w[0] < end) return false;
        Views.narrow(buffer, dim, start, s.length(), 1).copyFrom(g);
        written.add(new int[] {start, end});
        return true;
    }

    /** Zeroes every part no slice wrote: the buffer is then the sum of the slices' gradients. */
    void complete() {
        written.sort(Comparator.comparingInt(w -> w[0]));
        int at = 0, size = buffer.shape[dim];
        for (int[] w : written) {
            if (w[0] > at) Views.narrow(buffer, dim, at, w[0] - at, 1).fill(0);
            at = Math.max(at, w[1]);
        }
        if (at < size) Views.narrow(buffer, dim, at, size - at, 1).fill(0);
    }
}
