package dev.tessera.kernels.testing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import dev.tessera.runtime.cuda.DryRunDriver;

/**
 * Host stand-ins, on a dry-run device, for the routing kernels whose results decide host-side sizes and the next
 * stage's mask: without them every row would report zero chunks and the main network of an H-Net would get an empty
 * sequence. The boundaries are the ones a router gives when every cosine is 0 (one chunk per sequence) unless fixed
 * decisions were uploaded; the scan and the chunk metadata are emulated in full. Arguments are read as
 * {@code ChunkRoutingCuda} lays them out (native/cuda/kernels/chunk_routing.cu documents each kernel); a pointer
 * outside every live allocation is refused, not written.
 */
final class RoutingEmulations {
    private static final int VALID = 1, START = 2, FIRST_BIT = 0x80000000;

    private RoutingEmulations() {}

    /** With {@code every} &gt; 0, a boundary also at every {@code every}-th position of a sequence (GPU-sized shapes). */
    static void install(DryRunDriver dry, int every) {
        for (String type : new String[] {"f32", "f64", "bf16", "f16"}) dry.emulate("route_forward_" + type, a -> routeForward(a, every));
        dry.emulate("chunk_scan", RoutingEmulations::chunkScan);
        dry.emulate("chunk_meta", RoutingEmulations::chunkMeta);
    }

    /**
     * route_forward(q, k, flags, p, b, c, rows, len, d): b as the kernel sets it when every cosine is 0 (p = 0.5,
     * which is no boundary): a boundary exactly at each sequence start; with {@code every} &gt; 0 also at every
     * every-th position after one. p and c are left alone.
     */
    private static void routeForward(DryRunDriver.Arguments a, int every) {
        long rows = a.int64(6), len = a.int64(7), n = rows * len;
        MemorySegment flags = a.memory(2, n), b = a.memory(4, n);
        long sinceStart = 0;
        for (long i = 0; i < n; i++) {
            int f = flags != null ? flags.get(ValueLayout.JAVA_BYTE, i) : (i % len == 0 ? VALID | START : VALID);
            sinceStart = (f & START) != 0 ? 0 : sinceStart + 1;
            boolean boundary = (f & START) != 0 || (every > 0 && sinceStart % every == 0);
            b.set(ValueLayout.JAVA_BYTE, i, (byte) ((f & VALID) != 0 && boundary ? 1 : 0));
        }
    }

    /**
     * chunk_scan(b, flags, len, cap, index, of, pos, counts), one block per row, every output optional: index =
     * cumsum(b), of = the chunk a position shows (−1 before its sequence's first), pos = each chunk's position with
     * bit 31 on a sequence's first chunk, counts = chunks per row. Resets at t = 0 and at START flags.
     */
    private static void chunkScan(DryRunDriver.Arguments a) {
        long rows = a.grid()[0], len = a.int64(2), cap = a.int64(3);
        MemorySegment b = a.memory(0, rows * len), flags = a.memory(1, rows * len);
        MemorySegment index = a.memory(4, 8 * rows * len), of = a.memory(5, 4 * rows * len), pos = a.memory(6, 4 * rows * cap);
        MemorySegment counts = a.memory(7, 8 * rows);
        for (long r = 0; r < rows; r++) {
            long count = 0, lastB = -1, lastR = -1;
            for (long t = 0; t < len; t++) {
                long i = r * len + t;
                boolean bit = b.get(ValueLayout.JAVA_BYTE, i) != 0;
                long prevB = lastB;
                if (t == 0 || (flags != null && (flags.get(ValueLayout.JAVA_BYTE, i) & START) != 0)) lastR = t;
                if (bit) {
                    count++;
                    lastB = t;
                }
                if (index != null) index.setAtIndex(ValueLayout.JAVA_LONG, i, count);
                if (of != null) of.setAtIndex(ValueLayout.JAVA_INT, i, (int) (lastB >= lastR ? count - 1 : -1));
                if (pos != null && bit && count - 1 < cap) {
                    boolean first = count == 1 || prevB < lastR;
                    pos.setAtIndex(ValueLayout.JAVA_INT, r * cap + count - 1, (int) t | (first ? FIRST_BIT : 0));
                }
            }
            if (counts != null) counts.setAtIndex(ValueLayout.JAVA_LONG, r, count);
        }
    }

    /**
     * chunk_meta(index, counts, cu, seqs, rows, m, lengths, offsets, mask). Padded rows (cu null): lengths = counts,
     * offsets = their prefix sums, mask[r, j] = j &lt; counts[r]. Packed (cu [S+1]): lengths and offsets from index at
     * the sequence ends, mask all true.
     */
    private static void chunkMeta(DryRunDriver.Arguments a) {
        long seqs = a.int64(3), rows = a.int64(4), m = a.int64(5);
        MemorySegment cu = a.memory(2, 8 * (seqs + 1)), lengths = a.memory(6, 8 * seqs), offsets = a.memory(7, 8 * (seqs + 1));
        MemorySegment mask = a.memory(8, rows * m);
        if (cu == null) {
            MemorySegment counts = a.memory(1, 8 * rows);
            long run = 0;
            for (long r = 0; r < rows; r++) {
                long n = counts.getAtIndex(ValueLayout.JAVA_LONG, r);
                for (long j = 0; j < m; j++) mask.set(ValueLayout.JAVA_BYTE, r * m + j, (byte) (j < n ? 1 : 0));
                lengths.setAtIndex(ValueLayout.JAVA_LONG, r, n);
                offsets.setAtIndex(ValueLayout.JAVA_LONG, r, run);
                run += n;
            }
            offsets.setAtIndex(ValueLayout.JAVA_LONG, seqs, run);
        } else {
            long total = cu.getAtIndex(ValueLayout.JAVA_LONG, seqs);
            MemorySegment index = a.memory(0, 8 * Math.max(total, 1));
            mask.fill((byte) 1);
            for (long s = 0; s < seqs; s++) {
                long from = cu.getAtIndex(ValueLayout.JAVA_LONG, s), to = cu.getAtIndex(ValueLayout.JAVA_LONG, s + 1);
                long lo = from == 0 ? 0 : index.getAtIndex(ValueLayout.JAVA_LONG, from - 1);
                long hi = to == 0 ? 0 : index.getAtIndex(ValueLayout.JAVA_LONG, to - 1);
                lengths.setAtIndex(ValueLayout.JAVA_LONG, s, hi - lo);
                offsets.setAtIndex(ValueLayout.JAVA_LONG, s, lo);
                if (s == seqs - 1) offsets.setAtIndex(ValueLayout.JAVA_LONG, seqs, hi);
            }
        }
    }
}
