package dev.tessera.kernels.scan;

import dev.tessera.runtime.Tensor;

/**
 * What {@link SelectiveScan} returns.
 *
 * @param y          [B,L,H,P] (Mamba-1 form: [B,L,D])
 * @param finalState the state after each sequence's last position, [B,H,P,N] or [S,H,P,N] when packed
 *                   (Mamba-1 form: [B,D,N]); null unless {@link ScanOptions#returnFinalState()} was set
 */
public record ScanResult(Tensor y, Tensor finalState) {}
