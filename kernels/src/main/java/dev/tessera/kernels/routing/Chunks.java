package dev.tessera.kernels.routing;

import dev.tessera.runtime.Tensor;

/**
 * The boundary rows of a batch, compacted (H-Net, arXiv 2507.07955 §2.2, "chunking layer").
 *
 * @param x         the rows where b = 1, in order: [B, M, D] padded with zero rows to M = the largest per-row chunk
 *                  count (for packed input, B = 1 and x is itself packed); differentiable wrt the input
 * @param mask      [B, M] BOOL, true on real chunk rows (each row's first {@code lengths} entries): the inner
 *                  network's padding mask
 * @param lengths   [S] I64 chunks per sequence (S = B for padded input, the number of packed sequences otherwise)
 * @param cuSeqlens [S+1] I64 prefix sums of {@code lengths}: the offsets of the sequences in packed x, or where the
 *                  rows of padded x would start if packed
 * @param index     [B, L] I64 cumsum(b) along each row: position t shows chunk {@code index − 1} of its row
 *                  (dechunk's upsampling index; 0 before the row's first boundary)
 * @param boundaries the decisions b [B, L] these chunks were taken at
 * @param counts    chunks per row of x, on the host: the copy {@link ChunkRouter#chunk} had to make anyway to size x,
 *                  kept so that what follows (the dechunk's checks, a nested stage's routing, bytes per chunk) need
 *                  not wait for the device again
 */
public record Chunks(Tensor x, Tensor mask, Tensor lengths, Tensor cuSeqlens, Tensor index, Tensor boundaries, long[] counts) {
    public Chunks {
        counts = counts.clone();
    }

    /** Chunks per row of x (a copy). */
    @Override
    public long[] counts() { return counts.clone(); }

    /** Chunks in all rows together. */
    public long total() {
        long n = 0;
        for (long c : counts) n += c;
        return n;
    }

    int rows() { return counts.length; }
}
