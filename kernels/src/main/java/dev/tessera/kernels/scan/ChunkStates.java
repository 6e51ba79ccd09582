package dev.tessera.kernels.scan;

import jdk.incubator.vector.FloatVector;

/**
 * What the chunked forward ({@link ChunkedScan}) keeps for its backward ({@link ChunkedScanBackward}) when the scan
 * is differentiated: for every (sequence, head), the state entering each chunk and the chunk's step factors a_i,
 * cin, Δ and dΔ/dv. Without them the backward's first pass recomputed both — the whole state recurrence again, and
 * an exponential and a logarithm per position and head. Heap arrays, held by the recorded op until the graph is
 * released; for hnet-tiny's outer layers about 0.6 MB a layer and step.
 *
 * <p>Layouts are the backward's: a state is P rows of {@link #nv} (N padded to whole vectors), {@link #ss} floats;
 * the step factors of a chunk are four runs of {@link ChunkedScan#Q} floats.
 */
final class ChunkStates {
    /** Floats per state row and per state. */
    final int nv, ss;
    /** [s·H + h]: the states entering chunks 0 .. chunks(s) − 1, one after another. */
    final float[][] states;
    /** [s·H + h]: per chunk a_i, cin, Δ and dΔ/dv, Q floats each. */
    final float[][] steps;

    ChunkStates(ScanProblem p) {
        int vl = FloatVector.SPECIES_PREFERRED.length();
        nv = (p.stateSize + vl - 1) / vl * vl;
        int pp = (p.headDim + vl - 1) / vl * vl;
        ss = pp * nv;
        states = new float[p.sequences() * p.heads][];
        steps = new float[p.sequences() * p.heads][];
        for (int s = 0; s < p.sequences(); s++) {
            int chunks = chunks(p, s);
            for (int h = 0; h < p.heads; h++) {
                states[s * p.heads + h] = new float[Math.multiplyExact(chunks, ss)];
                steps[s * p.heads + h] = new float[chunks * 4 * ChunkedScan.Q];
            }
        }
    }

    static int chunks(ScanProblem p, int s) { return (p.seqEnd[s] - p.seqStart[s] + ChunkedScan.Q - 1) / ChunkedScan.Q; }
}
