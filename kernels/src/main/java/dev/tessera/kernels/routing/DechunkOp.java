package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;

/**
 * Dechunk with autograd: on CUDA the segmented-scan kernels of {@link ChunkRoutingCuda}; on the CPU the fast kernel
 * for F32, the reference for F64 (and for F32 without the Vector API module, on widened copies). Inputs ẑ, p, c are
 * differentiable.
 */
final class DechunkOp {
    private DechunkOp() {}

    static Tensor apply(Tensor zhat, Tensor p, Tensor b, Tensor c, Layout layout) {
        if (!zhat.device().isCpu()) return applyCuda(zhat, p, b, c, layout);
        int nb = layout.batch, len = layout.length, m = zhat.size(1), d = zhat.size(2);
        DType dt = zhat.dtype();
        if (dt == DType.F32 && !KernelSupport.vectorAvailable()) {
            // No Vector API module: the float64 reference on widened copies; the conversions carry the gradients.
            return apply(zhat.to(DType.F64), p.to(DType.F64), b, c.to(DType.F64), layout).to(DType.F32);
        }
        byte[] bits = ChunkKernel.bytes(b);
        Tensor zc = zhat.contiguous(), pc = p.contiguous();
        Tensor[] inputs = {zhat, p, c};
        if (dt == DType.F64) {
            boolean[][] bb = NestedArrays.bools(b);
            Tensor out = NestedArrays.tensor(ChunkRoutingReference.dechunk(NestedArrays.rank3(zc), NestedArrays.rank2(pc), bb, layout, d), d, dt);
            return KernelSupport.record("dechunk", out, inputs, new Tensor[] {zc, pc}, (dout, s) -> {
                ChunkRoutingReference.DechunkGrad g = ChunkRoutingReference.dechunkBackward(NestedArrays.rank3(s[0]), NestedArrays.rank2(s[1]),
                        bb, layout, NestedArrays.rank3(dout.to(dt)));
                return new Tensor[] {NestedArrays.tensor(g.dzhat(), d, dt), NestedArrays.tensor(g.dp(), len, dt), NestedArrays.tensor(g.dc(), len, dt)};
            });
        }
        int[] seqs = DechunkKernel.sequences(layout, bits);
        boolean grad = Grad.isEnabled() && (zhat.requiresGrad() || p.requiresGrad() || c.requiresGrad());
        Tensor out = KernelSupport.allocate(dt, new int[] {nb, len, d}, zhat.device());
        // z̄ per chunk for the backward (dc and dP read it); skipped when no gradient is wanted.
        Tensor zbar = grad ? KernelSupport.allocate(dt, new int[] {nb, m, d}, zhat.device()) : null;
        long profiled = KernelSupport.profileStart();
        DechunkKernel.forward(KernelSupport.segment(zc), KernelSupport.offset(zc), KernelSupport.segment(pc), KernelSupport.offset(pc),
                bits, seqs, len, m, d, KernelSupport.segment(out), zbar == null ? null : KernelSupport.segment(zbar));
        KernelSupport.profileStop("dechunk", profiled);
        if (!grad) return out;
        return KernelSupport.record("dechunk", out, inputs, new Tensor[] {zc, pc, zbar}, (dout, s) -> {
            Tensor g = dout.to(dt).contiguous();
            Tensor dz = KernelSupport.allocate(dt, new int[] {nb, m, d}, g.device());
            Tensor dp = KernelSupport.allocate(dt, new int[] {nb, len}, g.device()), dc = KernelSupport.allocate(dt, new int[] {nb, len}, g.device());
            DechunkKernel.backward(KernelSupport.segment(s[0]), KernelSupport.offset(s[0]), KernelSupport.segment(s[1]), KernelSupport.offset(s[1]),
                    bits, seqs, len, m, d, KernelSupport.segment(s[2]), KernelSupport.segment(g), KernelSupport.offset(g),
                    KernelSupport.segment(dz), KernelSupport.segment(dp), KernelSupport.segment(dc));
            return new Tensor[] {dz, dp, dc};
        });
    }

    /** The CUDA dechunk: no host synchronisation; the scan's outputs are kept for the backward. */
    private static Tensor applyCuda(Tensor zhat, Tensor p, Tensor b, Tensor c, Layout layout) {
        int nb = layout.batch, len = layout.length, m = zhat.size(1), d = zhat.size(2);
        DType dt = zhat.dtype();
        var dev = zhat.device();
        Tensor zc = zhat.contiguous(), pc = p.contiguous(), bc = b.contiguous();
        Tensor of = KernelSupport.allocate(DType.I32, new int[] {nb, len}, dev);
        Tensor pos = KernelSupport.allocate(DType.I32, new int[] {nb, Math.max(1, m)}, dev);
        Tensor counts = KernelSupport.allocate(DType.I64, new int[] {nb}, dev);
        boolean grad = Grad.isEnabled() && (zhat.requiresGrad() || p.requiresGrad() || c.requiresGrad());
        Tensor out = KernelSupport.allocate(dt, new int[] {nb, len, d}, dev);
        Tensor zbar = grad ? KernelSupport.allocate(dt, new int[] {nb, m, d}, dev) : null;
        long profiled = KernelSupport.profileStart();
        try (var flags = ChunkRoutingCuda.flags(ChunkRoutingCuda.device(zhat), layout)) {
            ChunkRoutingCuda.scan(bc, flags, nb, len, m, null, of, pos, counts);
        }
        ChunkRoutingCuda.dechunkForward(zc, pc, of, pos, counts, nb, len, m, d, out, zbar);
        KernelSupport.profileStop("dechunk", profiled);
        if (!grad) return out;
        return KernelSupport.record("dechunk", out, new Tensor[] {zhat, p, c}, new Tensor[] {zc, pc, zbar, of, pos, counts}, (dout, s) -> {
            Tensor g = dout.to(dt).contiguous();
            Tensor dz = KernelSupport.allocate(dt, new int[] {nb, m, d}, g.device());
            Tensor dp = KernelSupport.allocate(dt, new int[] {nb, len}, g.device()), dc = KernelSupport.allocate(dt, new int[] {nb, len}, g.device());
            ChunkRoutingCuda.dechunkBackward(s[0], s[1], s[2], s[3], s[4], s[5], g, nb, len, m, d, dz, dp, dc);
            return new Tensor[] {dz, dp, dc};
        });
    }
}
