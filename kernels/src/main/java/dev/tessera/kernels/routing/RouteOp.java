package dev.tessera.kernels.routing;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;

/**
 * Route with autograd: on CUDA the kernels of {@link ChunkRoutingCuda} (F32, F64, BF16); on the CPU the fast kernel
 * for F32, the reference for F64 (and for F32 without the Vector API module, on widened copies); c as a second
 * recorded op on p.
 */
final class RouteOp {
    private RouteOp() {}

    static Routing apply(Tensor q, Tensor k, Layout layout) {
        if (q.dtype() == DType.F32 && q.device().isCpu() && !KernelSupport.vectorAvailable()) {
            // No Vector API module: the float64 reference on widened copies; the conversions carry the gradients.
            Routing r = apply(q.to(DType.F64), k.to(DType.F64), layout);
            return new Routing(r.p().to(DType.F32), r.b(), r.c().to(DType.F32));
        }
        int nb = layout.batch, len = layout.length, d = q.size(2);
        DType dt = q.dtype();
        Tensor qc = q.contiguous(), kc = k.contiguous();
        Tensor p, b, c, flags = null;
        if (!q.device().isCpu()) {
            int[] shape = {nb, len};
            p = KernelSupport.allocate(dt, shape, q.device());
            b = KernelSupport.allocate(DType.BOOL, shape, q.device());
            c = KernelSupport.allocate(dt, shape, q.device());
            long profiled = KernelSupport.profileStart();
            flags = ChunkRoutingCuda.flagsTensor(q.device(), layout); // uploaded once: the backward reads them too
            ChunkRoutingCuda.routeForward(qc, kc, layout, flags, d, p, b, c);
            KernelSupport.profileStop("chunk_route", profiled);
        } else if (dt == DType.F32) {
            int[] shape = {nb, len};
            p = KernelSupport.allocate(DType.F32, shape, q.device());
            b = KernelSupport.allocate(DType.BOOL, shape, q.device());
            c = KernelSupport.allocate(DType.F32, shape, q.device());
            long profiled = KernelSupport.profileStart();
            RouteKernel.forward(KernelSupport.segment(qc), KernelSupport.offset(qc), KernelSupport.segment(kc), KernelSupport.offset(kc),
                    layout, d, KernelSupport.segment(p), KernelSupport.segment(b), KernelSupport.segment(c));
            KernelSupport.profileStop("chunk_route", profiled);
        } else {
            ChunkRoutingReference.Route r = ChunkRoutingReference.route(NestedArrays.rank3(qc), NestedArrays.rank3(kc), layout);
            p = NestedArrays.tensor(r.p(), len, dt);
            b = NestedArrays.tensor(r.b(), len);
            c = NestedArrays.tensor(r.c(), len, dt);
        }
        Tensor[] saved = flags == null ? new Tensor[] {qc, kc} : new Tensor[] {qc, kc, flags};
        p = KernelSupport.record("chunk_route", p, new Tensor[] {q, k}, saved, (dp, s) -> backward(s[0], s[1], layout, s.length > 2 ? s[2] : null, dp));
        // c = b ? p : 1 − p, so dc reaches p with the sign of the side chosen.
        c = KernelSupport.record("route_confidence", c, new Tensor[] {p}, new Tensor[] {b}, (dc, s) -> new Tensor[] {dc.where(s[0], dc.neg())});
        return new Routing(p, b, c);
    }

    private static Tensor[] backward(Tensor q, Tensor k, Layout layout, Tensor flags, Tensor dp) {
        DType dt = q.dtype();
        int d = q.size(2);
        Tensor g = dp.to(dt).contiguous();
        if (!q.device().isCpu()) {
            Tensor dq = KernelSupport.allocate(dt, q.shape(), q.device()), dk = KernelSupport.allocate(dt, k.shape(), k.device());
            ChunkRoutingCuda.routeBackward(q, k, layout, flags, d, g, dq, dk);
            return new Tensor[] {dq, dk};
        }
        if (dt == DType.F32) {
            Tensor dq = KernelSupport.allocate(dt, q.shape(), q.device()), dk = KernelSupport.allocate(dt, k.shape(), k.device());
            RouteKernel.backward(KernelSupport.segment(q), KernelSupport.offset(q), KernelSupport.segment(k), KernelSupport.offset(k),
                    layout, d, KernelSupport.segment(g), KernelSupport.offset(g), KernelSupport.segment(dq), KernelSupport.segment(dk));
            return new Tensor[] {dq, dk};
        }
        ChunkRoutingReference.RouteGrad r = ChunkRoutingReference.routeBackward(NestedArrays.rank3(q), NestedArrays.rank3(k), layout,
                NestedArrays.rank2(g));
        return new Tensor[] {NestedArrays.tensor(r.dq(), d, dt), NestedArrays.tensor(r.dk(), d, dt)};
    }
}
