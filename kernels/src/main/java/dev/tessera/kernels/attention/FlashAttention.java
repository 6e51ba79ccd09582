package dev.tessera.kernels.attention;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Fused scaled-dot-product attention with autograd (FlashAttention-2, arXiv 2307.08691), with the options the
 * byte-level models need: GQA, causal or bidirectional, sliding window, additive key bias with its gradient,
 * packed sequences, KV-cache decoding ({@link KvCache}) and Zonkey's existence mode ({@link ProbabilisticAttention}).
 *
 * <p>Shapes: q [B,Hq,Lq,P]; k, v [B,Hkv,Lk,P] with Hq a multiple of Hkv (query head h reads key/value head
 * {@code h / (Hq/Hkv)}); output [B,Hq,Lq,P]; logsumexp [B,Hq,Lq].
 * <pre>
 *   s_ij = scale · q_i·k_j + bias_j (+ E_ij),   o_i = Σ_j softmax_j(s_i)_j · v_j,   L_i = log Σ_j exp(s_ij)
 * </pre>
 * over the keys j visible to query i ({@link AttentionOptions} defines the masks; {@link FlashAttentionReference}
 * spells out every formula, forward and backward). A row whose visible keys are all masked outputs 0, has
 * L = −∞ and gets 0 gradient, never NaN.
 *
 * <p>F32 runs the tiled CPU kernel (online softmax over key tiles; the backward recomputes the probabilities
 * from L, deterministically); F64 runs the reference (for gradient checks). On CUDA, {@code FlashAttentionCuda} runs
 * native/cuda/kernels/flash_attention.cu for F32, F64 and BF16 (tensor cores for BF16 at head dim 64/128 without
 * bias, window, existence or cuSeqlens; a split-key kernel for one query per row); the logsumexp, key bias and log p
 * are then kept in F32 (F64 for F64), and dq is accumulated with atomics (not bit-reproducible). Backward gives dq, dk, dv, the key
 * bias gradient (a column sum of dS) and the log p gradients. FLOPs: forward 4·B·Hq·Lq·Lk·P (halved when
 * causal), backward about 2.5× that.
 *
 * <p>Without the {@code jdk.incubator.vector} module, F32 on the CPU runs the float64 reference on widened copies and
 * narrows the output, logsumexp and gradients back to F32.
 */
public final class FlashAttention {
    private FlashAttention() {}

    /** The attention output and the per-row logsumexp (F32 for F32 inputs; −∞ for fully masked rows). */
    public record Result(Tensor output, Tensor logsumexp) {}

    /** Bidirectional attention with scale 1/√P. */
    public static Tensor apply(Tensor q, Tensor k, Tensor v) { return forward(q, k, v, AttentionOptions.defaults()).output(); }

    /** Attention with the given options; differentiable in q, k, v, the key bias and log p. */
    public static Tensor apply(Tensor q, Tensor k, Tensor v, AttentionOptions o) { return forward(q, k, v, o).output(); }

    /**
     * Whether BF16 copies of these inputs would run on the GPU's tensor cores: on a CUDA device, head dim 48, 64, 96
     * or 128, no key bias, window, existence or packed documents, more than one query per row. Mixed precision casts
     * F32 q, k and v to BF16 only then: every other path computes in F32 whatever it reads, so there the casts (three
     * in and one out, four more in the backward) would cost eight kernels per call and precision for nothing.
     */
    public static boolean tensorCoresTakeBf16(Tensor q, Tensor k, Tensor v, AttentionOptions o) {
        return !q.device().isCpu() && FlashAttentionCuda.tensorCoresTakeBf16(Geometry.of(q, k, v, o));
    }

    /** Attention returning the logsumexp too (not differentiable). */
    @SuppressWarnings("try") // the region only switches gradient recording off
    public static Result forward(Tensor q, Tensor k, Tensor v, AttentionOptions o) {
        Geometry g = Geometry.of(q, k, v, o);
        if (g.dtype == DType.F32 && q.device().isCpu() && !KernelSupport.vectorAvailable()) return forwardWidened(q, k, v, o);
        Tensor[] inputs = {q, k, v, o.keyBias(), o.logpQ(), o.logpK()};
        Tensor[] saved = new Tensor[8];
        Tensor out, lse;
        boolean cuda = !q.device().isCpu();
        DType side = cuda ? FlashAttentionCuda.accType(g.dtype) : g.dtype; // bias, log p and logsumexp
        if (!cuda && g.dtype == DType.F32 && FlashDecodeCpu.eligible(g) && !(Grad.isEnabled() && (q.requiresGrad() || k.requiresGrad() || v.requiresGrad()))) {
            // a decoding step (one query per row, nothing to differentiate): keys and values read where they lie
            try (Grad.Region r = Grad.noGrad()) {
                out = KernelSupport.allocateUninitialized(g.dtype, q.shape(), q.device());
                lse = KernelSupport.allocateUninitialized(side, new int[] {g.batch, g.qHeads, g.qLen}, q.device());
                long profiled = KernelSupport.profileStart();
                FlashDecodeCpu.run(g, q, k, v, out, lse);
                KernelSupport.profileStop("flash_attention", profiled);
            }
            return new Result(out, lse);
        }
        try (Grad.Region r = Grad.noGrad()) {
            saved[0] = q.contiguous();
            saved[1] = k.contiguous();
            saved[2] = v.contiguous();
            saved[3] = asDtype(o.keyBias(), side, q);
            saved[4] = asDtype(o.logpQ(), side, q);
            saved[5] = o.logpK() == o.logpQ() ? saved[4] : asDtype(o.logpK(), side, q);
            // written in full by every path (the tests run the CPU's on poisoned memory, the CUDA's on the emulator's)
            out = KernelSupport.allocateUninitialized(g.dtype, q.shape(), q.device());
            lse = KernelSupport.allocateUninitialized(side, new int[] {g.batch, g.qHeads, g.qLen}, q.device());
            if (cuda) {
                FlashAttentionCuda.forward(g, saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], out, lse);
            } else if (g.dtype == DType.F64) {
                double[][] res = FlashAttentionReference.forward(g, new FlashAttentionReference.Data(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]));
                writeDoubles(res[0], out);
                writeDoubles(res[1], lse);
            } else {
                AttentionTiles t = new AttentionTiles(g, saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]);
                float[][] o32 = new float[g.batch * g.qHeads][g.qLen * g.headDim], l32 = new float[g.batch * g.qHeads][g.qLen];
                long profiled = KernelSupport.profileStart();
                FlashForwardCpu.run(t, o32, l32);
                KernelSupport.profileStop("flash_attention", profiled);
                AttentionTiles.write(o32, out, g.qLen * g.headDim);
                AttentionTiles.write(l32, lse, g.qLen);
            }
        }
        saved[6] = out;
        saved[7] = lse;
        KernelSupport.record(Geometry.OP, out, inputs, saved, (dOut, s) -> backward(g, s, dOut));
        return new Result(out, lse);
    }

    /**
     * F32 on the CPU without the Vector API module: the float64 reference on widened copies of q, k, v, the key bias
     * and log p; output and logsumexp narrowed back to F32. The conversions are recorded ops, so the gradients come
     * from the reference backward and reach the F32 inputs as F32; no Vector API class is touched on this route.
     */
    private static Result forwardWidened(Tensor q, Tensor k, Tensor v, AttentionOptions o) {
        AttentionOptions.Builder wide = o.toBuilder().keyBias(widen(o.keyBias()));
        Tensor lpq = widen(o.logpQ());
        if (lpq != null) wide.existence(lpq, o.logpK() == o.logpQ() ? lpq : widen(o.logpK())); // keep self-attention's one tensor
        Result r = forward(widen(q), widen(k), widen(v), wide.build());
        return new Result(r.output().to(DType.F32), r.logsumexp().to(DType.F32));
    }

    private static Tensor widen(Tensor t) { return t == null ? null : t.to(DType.F64); }

    private static Tensor asDtype(Tensor t, DType d, Tensor like) {
        return t == null ? null : t.to(d).to(like.device()).contiguous();
    }

    private static void writeDoubles(double[] src, Tensor t) {
        MemorySegment.copy(src, 0, KernelSupport.segment(t), ValueLayout.JAVA_DOUBLE, KernelSupport.offset(t) * 8, src.length);
    }

    /** Gradients of {q, k, v, keyBias, logpQ, logpK} from the output gradient. */
    private static Tensor[] backward(Geometry g, Tensor[] s, Tensor dOut) {
        Tensor q = s[0], k = s[1], v = s[2], bias = s[3], lpq = s[4], lpk = s[5];
        if (!q.device().isCpu()) return FlashAttentionCuda.backward(g, s, dOut);
        if (g.dtype == DType.F64) {
            double[][] r = FlashAttentionReference.backward(g, new FlashAttentionReference.Data(q, k, v, bias, lpq, lpk),
                    dOut.contiguous().toDoubleArray());
            return new Tensor[] {Tensor.of(r[0], q.shape()), Tensor.of(r[1], k.shape()), Tensor.of(r[2], v.shape()),
                    bias == null ? null : Tensor.of(r[3], bias.shape()),
                    lpq == null ? null : Tensor.of(r[4], g.batch, g.qLen), lpk == null ? null : Tensor.of(r[5], g.batch, g.kLen)};
        }
        int P = g.headDim;
        AttentionTiles t = new AttentionTiles(g, q, k, v, bias, lpq, lpk);
        Tensor dOc = dOut.to(DType.F32).contiguous();
        float[][] o = AttentionTiles.read(s[6], g.batch * g.qHeads, g.qLen * P, 0);
        float[][] lse = AttentionTiles.read(s[7], g.batch * g.qHeads, g.qLen, 0);
        float[][] dO = AttentionTiles.read(dOc, g.batch * g.qHeads, g.qLen * P, 0);
        FlashBackwardCpu.Result r = FlashBackwardCpu.run(t, o, lse, dO);
        Tensor dq = KernelSupport.allocateUninitialized(DType.F32, q.shape(), q.device());
        Tensor dk = KernelSupport.allocateUninitialized(DType.F32, k.shape(), k.device());
        Tensor dv = KernelSupport.allocateUninitialized(DType.F32, v.shape(), v.device());
        AttentionTiles.write(r.dq, dq, g.qLen * P);
        AttentionTiles.write(r.dk, dk, g.kLen * P);
        AttentionTiles.write(r.dv, dv, g.kLen * P);
        Tensor dBias = null, dLpq = null, dLpk = null;
        if (bias != null) {
            dBias = KernelSupport.allocateUninitialized(DType.F32, bias.shape(), bias.device());
            AttentionTiles.write(g.biasHeads == 1 ? sumHeads(g, r.colSum, g.kLen, null, 1) : r.colSum, dBias, g.kLen);
        }
        if (lpq != null) {
            dLpq = KernelSupport.allocateUninitialized(DType.F32, new int[] {g.batch, g.qLen}, q.device());
            dLpk = KernelSupport.allocateUninitialized(DType.F32, new int[] {g.batch, g.kLen}, q.device());
            AttentionTiles.write(sumHeads(g, r.rowSumAfter, g.qLen, AttentionTiles.read(lpq, g.batch, g.qLen, 0), -1), dLpq, g.qLen);
            AttentionTiles.write(sumHeads(g, r.colSumAfter, g.kLen, AttentionTiles.read(lpk, g.batch, g.kLen, 0), 1), dLpk, g.kLen);
        }
        return new Tensor[] {dq, dk, dv, dBias, dLpq, dLpk};
    }

    /**
     * {@code sign · Σ_h perHead[b·Hq + h]} per batch row, heads added in order (deterministic), zeroed where the log p
     * clamp is active or log p = −∞ when {@code logp} is given.
     */
    private static float[][] sumHeads(Geometry g, float[][] perHead, int len, float[][] logp, int sign) {
        float[][] out = new float[g.batch][len];
        for (int b = 0; b < g.batch; b++) {
            for (int h = 0; h < g.qHeads; h++) {
                float[] x = perHead[b * g.qHeads + h];
                for (int j = 0; j < len; j++) out[b][j] += x[j];
            }
            for (int j = 0; j < len; j++) {
                out[b][j] *= sign;
                if (logp != null) out[b][j] *= (float) FlashAttentionReference.clampGrad(logp[b][j]);
            }
        }
        return out;
    }
}
