package dev.tessera.runtime;

import java.util.Arrays;

/** Shape arithmetic: element counts, contiguous strides, broadcasting and dimension checks. */
final class Shape {
    private Shape() {}

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    static long[] contiguousStrides(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return st;
    }

    static String str(int[] shape) { return Arrays.toString(shape); }

    /** NumPy broadcasting of two shapes; the error names the op and both shapes. */
    static int[] broadcast(String op, int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
            int db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b) + " cannot be broadcast together (dim "
                        + i + ": " + da + " vs " + db + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Normalises a possibly negative dimension; out of range throws naming the op, the dim and the rank. */
    static int dim(String op, int d, int rank) {
        int n = d < 0 ? d + rank : d;
        if (n < 0 || n >= rank) {
            throw new IndexOutOfBoundsException(op + ": dimension " + d + " out of range for a tensor of rank " + rank
                    + " (valid: " + (rank == 0 ? "none" : -rank + ".." + (rank - 1)) + ")");
        }
        return n;
    }

    /** Normalised, sorted, distinct dims; an empty array means all dims. */
    static int[] dims(String op, int[] dims, int rank) {
        if (dims == null || dims.length == 0) {
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) all[i] = i;
            return all;
        }
        int[] n = new int[dims.length];
        for (int i = 0; i < dims.length; i++) n[i] = dim(op, dims[i], rank);
        Arrays.sort(n);
        for (int i = 1; i < n.length; i++) {
            if (n[i] == n[i - 1]) throw new IllegalArgumentException(op + ": dimension " + n[i] + " given twice in " + Arrays.toString(dims));
        }
        return n;
    }

    static void checkShape(String op, int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException(op + ": negative dimension in shape " + str(shape));
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(op + ": shape " + str(shape) + " has more than 2^31-1 elements");
            }
        }
    }
}
