package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.util.Arrays;

/**
 * Which positions of a [B, L] batch are real and where each sequence starts, derived once from the
 * caller's padding mask or packed {@code cuSeqlens} and shared by the route and dechunk kernels.
 *
 * <p>Three forms:
 * <ul>
 *   <li>no mask: every row is one sequence of length L;</li>
 *   <li>mask [B, L] BOOL: each row's true positions must form one contiguous run (right or left padding);
 *       the run is the row's sequence and starts at its first true position;</li>
 *   <li>cuSeqlens [S+1] (I32/I64) with B = 1: sequence s covers positions cuSeqlens[s] .. cuSeqlens[s+1]−1 of the
 *       single packed row; cuSeqlens[0] = 0, non-decreasing, cuSeqlens[S] = L.</li>
 * </ul>
 * One byte of flags per flat position {@code b·L + t}.
 */
final class Layout {
    static final byte VALID = 1, START = 2;

    final int batch, length;
    final byte[] flags;
    /** Every row one full-length sequence ({@link #rows}): the CUDA kernels then need no flags. */
    final boolean plain;

    private Layout(int batch, int length, byte[] flags) { this(batch, length, flags, false); }

    private Layout(int batch, int length, byte[] flags, boolean plain) {
        this.batch = batch;
        this.length = length;
        this.flags = flags;
        this.plain = plain;
    }

    boolean valid(int i) { return (flags[i] & VALID) != 0; }

    boolean start(int i) { return (flags[i] & START) != 0; }

    /** Every row one full-length sequence. */
    static Layout rows(int batch, int length) {
        byte[] f = new byte[batch * length];
        Arrays.fill(f, VALID);
        for (int b = 0; b < batch; b++) if (length > 0) f[b * length] = VALID | START;
        return new Layout(batch, length, f, true);
    }

    /** Rows right-padded after their first {@code lengths[b]} positions, as an outer stage's chunks are: no device read. */
    static Layout rightPadded(int batch, int length, long[] lengths) {
        byte[] f = new byte[batch * length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < lengths[b]; t++) f[b * length + t] = VALID;
            if (lengths[b] > 0) f[b * length] = VALID | START;
        }
        return new Layout(batch, length, f);
    }

    static Layout fromMask(String op, Tensor mask, int batch, int length) {
        if (mask.dtype() != DType.BOOL || mask.dim() != 2 || mask.size(0) != batch || mask.size(1) != length) {
            throw new IllegalArgumentException(op + ": mask must be BOOL [B, L] = [" + batch + ", " + length + "], got "
                    + mask.dtype() + " " + Arrays.toString(mask.shape()));
        }
        int[] m = mask.toIntArray();
        byte[] f = new byte[batch * length];
        for (int b = 0; b < batch; b++) {
            int runs = 0;
            for (int t = 0; t < length; t++) {
                int i = b * length + t;
                if (m[i] == 0) continue;
                boolean first = t == 0 || m[i - 1] == 0;
                if (first) runs++;
                f[i] = (byte) (VALID | (first ? START : 0));
            }
            if (runs > 1) {
                throw new IllegalArgumentException(op + ": mask row " + b + " has " + runs
                        + " separate runs of true; use one run per row (right or left padding) or pack with cuSeqlens");
            }
        }
        return new Layout(batch, length, f);
    }

    static Layout fromCuSeqlens(String op, Tensor cuSeqlens, int batch, int length) {
        if (cuSeqlens.dtype() != DType.I32 && cuSeqlens.dtype() != DType.I64 || cuSeqlens.dim() != 1 || cuSeqlens.size(0) < 2) {
            throw new IllegalArgumentException(op + ": cuSeqlens must be I32 or I64 [S+1] with S >= 1, got "
                    + cuSeqlens.dtype() + " " + Arrays.toString(cuSeqlens.shape()));
        }
        if (batch != 1) {
            throw new IllegalArgumentException(op + ": packed sequences (cuSeqlens) need batch 1, got B = " + batch
                    + " (shape [" + batch + ", " + length + ", D])");
        }
        long[] cu = cuSeqlens.toLongArray();
        if (cu[0] != 0 || cu[cu.length - 1] != length) {
            throw new IllegalArgumentException(op + ": cuSeqlens must start at 0 and end at L = " + length + ", got "
                    + Arrays.toString(cu));
        }
        byte[] f = new byte[length];
        Arrays.fill(f, VALID);
        for (int s = 0; s + 1 < cu.length; s++) {
            if (cu[s + 1] < cu[s]) throw new IllegalArgumentException(op + ": cuSeqlens must be non-decreasing, got " + Arrays.toString(cu));
            if (cu[s + 1] > cu[s]) f[(int) cu[s]] = VALID | START;
        }
        return new Layout(1, length, f);
    }
}
