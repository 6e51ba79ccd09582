package dev.tessera.nn;

import dev.tessera.kernels.rotary.Rotary;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.Arrays;

/**
 * Rotary position embedding, GPT-NeoX style (non-interleaved; RoFormer, arXiv 2104.09864): the first
 * {@code rotaryDim} channels of each head are split into halves (x₁, x₂) and rotated by angle pos·θ_i with
 * θ_i = base^(−2i/rotaryDim): (x₁cos − x₂sin, x₂cos + x₁sin); the remaining channels pass through.
 */
public final class RotaryEmbedding implements AutoCloseable {
    private final int rotaryDim;
    private final double base;
    // Tables for positions 0..C−1, kept where they were used: training rotates the same positions at every step,
    // decoding the next one, and on a GPU every upload waits for the device (two per attention layer per step before).
    private static final int CACHE_QUANTUM = 1024;
    private Tensor cachedCos, cachedSin;

    public RotaryEmbedding(int rotaryDim, double base) {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new IllegalArgumentException("rotary dim must be positive and even, got " + rotaryDim);
        this.rotaryDim = rotaryDim;
        this.base = base;
    }

    public int rotaryDim() { return rotaryDim; }

    /** cos and sin tables [positions.length, rotaryDim/2] for the given absolute positions. */
    Tensor[] tables(int[] positions) {
        int half = rotaryDim / 2;
        float[] c = new float[positions.length * half], s = new float[positions.length * half];
        for (int t = 0; t < positions.length; t++) {
            for (int i = 0; i < half; i++) {
                double theta = positions[t] * Math.pow(base, -2.0 * i / rotaryDim);
                c[t * half + i] = (float) Math.cos(theta);
                s[t * half + i] = (float) Math.sin(theta);
            }
        }
        return new Tensor[] {Tensor.of(c, positions.length, half), Tensor.of(s, positions.length, half)};
    }

    /** Rotates x [B, H, L, P] whose rows sit at {@code positions} [L] (restart them per packed document); one fused pass. */
    public Tensor apply(Tensor x, int[] positions) { return apply(positions, x)[0]; }

    /** Rotates each of {@code xs} (same L, dtype and device, e.g. q and k) with one pair of tables. */
    public Tensor[] apply(int[] positions, Tensor... xs) {
        Tensor first = xs[0];
        int l = first.size(-2);
        if (positions.length != l) throw new IllegalArgumentException("rotary: " + positions.length + " positions for length " + l);
        for (Tensor x : xs) {
            if (rotaryDim > x.size(-1)) throw new IllegalArgumentException("rotary dim " + rotaryDim + " exceeds head dim " + x.size(-1));
        }
        Tensor[] cs = tablesOn(positions, first.dtype() == DType.F64 ? DType.F64 : DType.F32, first.device());
        Tensor[] out = new Tensor[xs.length];
        for (int i = 0; i < xs.length; i++) out[i] = Rotary.apply(xs[i], cs[0], cs[1]);
        return out;
    }

    /**
     * cos and sin for {@code positions} in {@code dtype} on {@code device}. Consecutive positions a..a+L−1 (every
     * training and evaluation window, every decoding step) read rows of tables cached for 0..C−1, C a multiple of
     * 1,024 that only grows, so memory stays flat however the lengths of chunked sequences vary; other positions
     * (packed documents) are built anew.
     */
    private synchronized Tensor[] tablesOn(int[] positions, DType dtype, Device device) {
        int n = positions.length, first = n == 0 ? 0 : positions[0];
        boolean range = first >= 0;
        for (int t = 1; t < n && range; t++) range = positions[t] == first + t;
        if (!range) {
            Tensor[] cs = tables(positions);
            return new Tensor[] {cs[0].to(dtype).to(device), cs[1].to(dtype).to(device)};
        }
        long end = (long) first + n;
        boolean hit = cachedCos != null && !cachedCos.isReleased() && cachedCos.dtype() == dtype && cachedCos.device().equals(device)
                && cachedCos.size(0) >= end;
        if (!hit) {
            close();
            int capacity = (int) Math.max(CACHE_QUANTUM, (end + CACHE_QUANTUM - 1) / CACHE_QUANTUM * CACHE_QUANTUM);
            Tensor[] cs = tables(RotaryEmbedding.positions(0, capacity));
            try (Scope s = Scope.open()) {
                cachedCos = Scope.persist(cs[0].to(dtype).to(device).contiguous().clone());
                cachedSin = Scope.persist(cs[1].to(dtype).to(device).contiguous().clone());
            }
            cs[0].close();
            cs[1].close();
        }
        return new Tensor[] {cachedCos.narrow(0, first, n), cachedSin.narrow(0, first, n)};
    }

    /** Frees the cached tables (the module that owns this embedding calls it when it closes). */
    @Override
    public synchronized void close() {
        if (cachedCos != null) cachedCos.close();
        if (cachedSin != null) cachedSin.close();
        cachedCos = cachedSin = null;
    }

    /** Positions 0..l−1 offset by {@code start}. */
    public static int[] positions(int start, int l) {
        int[] p = new int[l];
        for (int i = 0; i < l; i++) p[i] = start + i;
        return p;
    }

    /**
     * Positions of a packed row of length {@code l}: each document of {@code cuSeqlens} = {0, …, l} counts from 0 at
     * its own start, so a document gets the rotations it would get alone.
     *
     * @throws IllegalArgumentException if cuSeqlens does not start at 0, end at l and never decrease
     */
    public static int[] positions(int[] cuSeqlens, int l) {
        if (cuSeqlens.length < 2 || cuSeqlens[0] != 0 || cuSeqlens[cuSeqlens.length - 1] != l) {
            throw new IllegalArgumentException("rotary: cuSeqlens must run from 0 to L = " + l + ", got " + Arrays.toString(cuSeqlens));
        }
        int[] p = new int[l];
        for (int d = 0; d + 1 < cuSeqlens.length; d++) {
            if (cuSeqlens[d + 1] < cuSeqlens[d]) {
                throw new IllegalArgumentException("rotary: cuSeqlens must not decrease, got " + Arrays.toString(cuSeqlens));
            }
            for (int t = cuSeqlens[d]; t < cuSeqlens[d + 1]; t++) p[t] = t - cuSeqlens[d];
        }
        return p;
    }

}
