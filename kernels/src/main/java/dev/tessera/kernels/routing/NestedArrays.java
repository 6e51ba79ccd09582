package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;

/** Tensors to and from the nested double arrays of {@link ChunkRoutingReference} (the F64 path and the tests). */
final class NestedArrays {
    private NestedArrays() {}

    static double[][][] rank3(Tensor t) {
        int b = t.size(0), l = t.size(1), d = t.size(2);
        double[] flat = t.toDoubleArray();
        double[][][] a = new double[b][l][d];
        for (int i = 0; i < b; i++) for (int j = 0; j < l; j++) System.arraycopy(flat, (i * l + j) * d, a[i][j], 0, d);
        return a;
    }

    static double[][] rank2(Tensor t) {
        int b = t.size(0), l = t.size(1);
        double[] flat = t.toDoubleArray();
        double[][] a = new double[b][l];
        for (int i = 0; i < b; i++) System.arraycopy(flat, i * l, a[i], 0, l);
        return a;
    }

    static boolean[][] bools(Tensor t) {
        int b = t.size(0), l = t.size(1);
        int[] flat = t.toIntArray();
        boolean[][] a = new boolean[b][l];
        for (int i = 0; i < b; i++) for (int j = 0; j < l; j++) a[i][j] = flat[i * l + j] != 0;
        return a;
    }

    static Tensor tensor(double[][][] a, int d, DType dtype) {
        int b = a.length, l = b == 0 ? 0 : a[0].length;
        double[] flat = new double[b * l * d];
        for (int i = 0; i < b; i++) for (int j = 0; j < l; j++) System.arraycopy(a[i][j], 0, flat, (i * l + j) * d, d);
        return Tensor.of(flat, b, l, d).to(dtype);
    }

    static Tensor tensor(double[][] a, int l, DType dtype) {
        int b = a.length;
        double[] flat = new double[b * l];
        for (int i = 0; i < b; i++) System.arraycopy(a[i], 0, flat, i * l, l);
        return Tensor.of(flat, b, l).to(dtype);
    }

    static Tensor tensor(boolean[][] a, int l) {
        int b = a.length;
        boolean[] flat = new boolean[b * l];
        for (int i = 0; i < b; i++) System.arraycopy(a[i], 0, flat, i * l, l);
        return Tensor.of(flat, b, l);
    }
}
