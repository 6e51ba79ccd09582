package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A pending gradient assembled from the backward passes of narrows of one tensor (a projection split into its
 * parts, say): its memory starts uninitialised, each slice is copied into a part no slice has written yet, and only
 * what no slice covered is zeroed, once, before anything reads it. Zero-filling the whole buffer first and adding
 * every slice into it cost a full extra write and read of the gradient per split.
 *
 * <p>A slice's part may also be lent, before the backward that computes the slice's gradient runs, as that
 * backward's destination ({@link #reserve}); a backward that writes its gradient there saves the copy, and the part
 * counts as written once it says so ({@link #confirm}).
 */
final class PartialGradient {
    private final Tensor buffer;
    private final int dim;
    /** Written intervals [start, end) along {@link #dim}, disjoint. */
    private final List<int[]> written = new ArrayList<>();
    /** Intervals lent to a running backward as its destination, disjoint from each other and from the written ones. */
    private final List<int[]> reserved = new ArrayList<>();

    private PartialGradient(Tensor buffer, int dim) {
        this.buffer = buffer;
        this.dim = dim;
    }

    /** A fresh uninitialised buffer of the input's shape, holding slice {@code s} = {@code g}; null when s has a stride. */
    static PartialGradient start(Tensor input, Node.Slice s, Tensor g) {
        if (s.step() != 1) return null;
        PartialGradient pg = empty(input, s, g.device());
        pg.tryCopy(s, g);
        return pg;
    }

    /** A fresh uninitialised buffer of the input's shape with nothing written, assembled along {@code s}'s dimension. */
    static PartialGradient empty(Tensor input, Node.Slice s, Device device) {
        return new PartialGradient(Tensor.allocate(input.dtype, input.shape, device), s.dim());
    }

    Tensor buffer() { return buffer; }

    /** Copies {@code g} into slice {@code s} when that part is unwritten (same dimension, unit step); else false. */
    boolean tryCopy(Node.Slice s, Tensor g) {
        if (!free(s)) return false;
        Views.narrow(buffer, dim, s.start(), s.length(), 1).copyFrom(g);
        written.add(new int[] {s.start(), s.start() + s.length()});
        return true;
    }

    /**
     * Lends slice {@code s}'s part as a destination of shape {@code shape} (the slice itself, or a view of it reshaped
     * without a copy); null when the part is taken or cut differently, or when no view of that shape exists.
     */
    Tensor reserve(Node.Slice s, int[] shape) {
        if (!free(s)) return null;
        Tensor part = Views.narrow(buffer, dim, s.start(), s.length(), 1);
        if (java.util.Arrays.equals(part.shape, shape)) {
            reserved.add(new int[] {s.start(), s.start() + s.length()});
            return part;
        }
        Tensor dest = Views.viewOrNull(part, shape);
        part.close(); // the view, if any, holds the storage itself
        if (dest == null) return null;
        if (Views.viewOrNull(dest, part.shape) == null) { // the reshape node's backward must give a view back, too
            dest.close();
            return null;
        }
        reserved.add(new int[] {s.start(), s.start() + s.length()});
        return dest;
    }

    /** The backward wrote its gradient into the part lent for {@code s}: it now counts as written. */
    void confirm(Node.Slice s) {
        reserved.remove(find(reserved, s));
        written.add(new int[] {s.start(), s.start() + s.length()});
    }

    /** The backward did not use the part lent for {@code s}: it is free again. */
    void release(Node.Slice s) { reserved.remove(find(reserved, s)); }

    /** True when nothing is written or lent: the buffer serves no one. */
    boolean isIdle() { return written.isEmpty() && reserved.isEmpty(); }

    private static int[] find(List<int[]> intervals, Node.Slice s) {
        for (int[] w : intervals) if (w[0] == s.start() && w[1] == s.start() + s.length()) return w;
        throw new IllegalStateException("internal: no reservation for slice " + s);
    }

    private boolean free(Node.Slice s) {
        if (s.dim() != dim || s.step() != 1) return false;
        int start = s.start(), end = s.start() + s.length();
        for (int[] w : written) if (start < w[1] && w[0] < end) return false;
        for (int[] w : reserved) if (start < w[1] && w[0] < end) return false;
        return true;
    }

    /** Zeroes every part no slice wrote: the buffer is then the sum of the slices' gradients. */
    void complete() {
        if (!reserved.isEmpty()) throw new IllegalStateException("internal: gradient completed while parts are lent to a backward");
        written.sort(Comparator.comparingInt(w -> w[0]));
        int at = 0, size = buffer.shape[dim];
        for (int[] w : written) {
            if (w[0] > at) Views.narrow(buffer, dim, at, w[0] - at, 1).fill(0);
            at = Math.max(at, w[1]);
        }
        if (at < size) Views.narrow(buffer, dim, at, size - at, 1).fill(0);
    }
}
