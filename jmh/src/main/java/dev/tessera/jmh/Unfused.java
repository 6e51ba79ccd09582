package dev.tessera.jmh;

import java.util.ArrayList;
import java.util.List;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;

/**
 * The fused kernels' computations composed from unfused runtime ops: the baselines the benchmarks call
 * {@code unfused}, on whatever device their inputs live (the CPU benchmarks here, the GPU ones in {@code gpu}).
 * Callers open the scope that frees the temporaries.
 */
public final class Unfused {
    private Unfused() {}

    /**
     * Mamba-2 scan: S ← exp(Δ_t·A)·S + (Δ_t·x_t)⊗B_t and y_t = S·C_t with broadcasting tensor ops, then y = stack of
     * y_t. x [B,L,H,P], dt [B,L,H], a [H], bm/cm [B,L,G,N].
     */
    public static Tensor scan(Tensor x, Tensor dt, Tensor a, Tensor bm, Tensor cm, int g) {
        int b = x.size(0), l = x.size(1), h = x.size(2), p = x.size(3), n = bm.size(3);
        Tensor state = Tensor.zeros(DType.F32, x.device(), b, h, p, n);
        Tensor aRow = a.reshape(1, h);
        List<Tensor> ys = new ArrayList<>(l);
        int hpg = h / g;
        for (int t = 0; t < l; t++) {
            Tensor prev = state;
            try (dev.tessera.runtime.Scope step = dev.tessera.runtime.Scope.open()) { // frees each step's temporaries
                Tensor delta = dt.select(1, t);                                          // [B,H]
                Tensor decay = delta.mul(aRow).exp().reshape(b, h, 1, 1);
                Tensor xd = x.select(1, t).mul(delta.reshape(b, h, 1)).reshape(b, h, p, 1); // Δ·x, [B,H,P,1]
                Tensor bt = bm.select(1, t).reshape(b, g, 1, 1, n).expand(b, g, hpg, 1, n).reshape(b, h, 1, n);
                Tensor ct = cm.select(1, t).reshape(b, g, 1, n, 1).expand(b, g, hpg, n, 1).reshape(b, h, n, 1);
                state = step.keep(prev.mul(decay).add(xd.mul(bt)));
                ys.add(step.keep(state.matmul(ct).reshape(b, h, p).contiguous()));
            }
            prev.close();
        }
        return Tensor.stack(ys, 1);
    }

    /**
     * H-Net routing: route (p = clamp((1 − cos(q̂_{t−1}, k̂_t))/2, 0, 1), p_0 = 1, b = p > 0.5), chunk (boundary rows
     * gathered with positions found on the host, as boolean indexing does), dechunk (EMA over the chunks, then
     * upsample; ×STE(c) is ×1 forward). q, k, x [B, L, D]. Returns the number of output elements.
     */
    public static double routing(Tensor q, Tensor k, Tensor x) {
        int nb = x.size(0), len = x.size(1), d = x.size(2);
        Device dev = x.device();
        Tensor qn = q.div(q.pow(2).sum(new int[] {2}, true).sqrt().clamp(1e-12, Double.MAX_VALUE));
        Tensor kn = k.div(k.pow(2).sum(new int[] {2}, true).sqrt().clamp(1e-12, Double.MAX_VALUE));
        Tensor cos = qn.narrow(1, 0, len - 1).mul(kn.narrow(1, 1, len - 1)).sum(new int[] {2}, false);
        Tensor p = cos.neg().add(1).mul(0.5).clamp(0, 1).pad(new int[] {1, 0}, 1);
        Tensor b = p.gt(Tensor.full(0.5, DType.F32, dev));
        Tensor c = p.maximum(p.neg().add(1));
        int[] bits = b.toIntArray();
        int m = 0;
        int[] counts = new int[nb];
        for (int r = 0; r < nb; r++) {
            for (int t = 0; t < len; t++) counts[r] += bits[r * len + t];
            m = Math.max(m, counts[r]);
        }
        long[] rows = new long[nb * m], upsample = new long[nb * len];
        for (int r = 0; r < nb; r++) {
            int j = 0;
            for (int t = 0; t < len; t++) {
                if (bits[r * len + t] != 0) rows[r * m + j++] = r * len + t;
                upsample[r * len + t] = (long) r * m + j - 1;
            }
        }
        Tensor idx = Tensor.of(rows, nb * m).to(dev);
        Tensor chunks = x.reshape(nb * len, d).indexSelect(0, idx).reshape(nb, m, d);
        Tensor prob = p.reshape(nb * len).indexSelect(0, idx).reshape(nb, m, 1).clamp(1e-4, 1 - 1e-4);
        List<Tensor> zbar = new ArrayList<>(m);
        Tensor prev = Tensor.zeros(DType.F32, dev, nb, d);
        for (int j = 0; j < m; j++) {
            Tensor pj = prob.select(1, j);
            prev = pj.mul(chunks.select(1, j)).add(pj.neg().add(1).mul(prev));
            zbar.add(prev);
        }
        Tensor z = Tensor.stack(zbar, 1).reshape(nb * m, d);
        Tensor out = z.indexSelect(0, Tensor.of(upsample, nb * len).to(dev)).reshape(nb, len, d);
        return out.numel() + c.numel();
    }

    /** Mamba-2's gated RMSNorm, RMSNorm(x ⊙ SiLU(z)) ⊙ w, from silu, mul and the runtime's RMSNorm. */
    public static Tensor gatedRmsNorm(Tensor x, Tensor z, Tensor w, double eps) { return dev.tessera.runtime.Functional.rmsNorm(x.mul(z.silu()), w, eps); }

    /** SwiGLU y = u·SiLU(g) over the halves of the last dim, from narrow, silu and mul. */
    public static Tensor swiglu(Tensor x) {
        int f = x.size(-1) / 2;
        return x.narrow(-1, 0, f).mul(x.narrow(-1, f, f).silu());
    }

    /** GPT-NeoX rotary embedding of x [..., L, P] with tables [L, R/2], from narrow, mul, sub, add and cat. */
    public static Tensor rotary(Tensor x, Tensor cos, Tensor sin) {
        int half = cos.size(1), p = x.size(-1);
        Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
        Tensor r1 = x1.mul(cos).sub(x2.mul(sin)), r2 = x2.mul(cos).add(x1.mul(sin));
        return 2 * half == p ? Tensor.cat(java.util.List.of(r1, r2), -1)
                : Tensor.cat(java.util.List.of(r1, r2, x.narrow(-1, 2 * half, p - 2 * half)), -1);
    }

    /** One AdamW update composed from in-place runtime ops, as nn's AdamW made it before the fused step. */
    public static void adamw(Tensor w, Tensor g, Tensor m, Tensor v, double lr, double beta1, double beta2, double eps, double decay,
                             double c1, double c2) {
        m.affineInPlace(beta1, 0).addInPlace(g.mul(1 - beta1));
        v.affineInPlace(beta2, 0).addInPlace(g.mul(g).mul(1 - beta2));
        w.affineInPlace(1 - lr * decay, 0);
        w.addInPlace(m.div(v.div(c2).sqrt().add(eps)).mul(-lr / c1));
    }
}
