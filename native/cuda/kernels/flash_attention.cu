// Flash attention (FlashAttention-2, arXiv 2307.08691) with Tessera's options: GQA, causal or bidirectional,
// sliding window, per-row key lengths (KV cache), packed documents (cuSeqlens), an additive key bias with its
// gradient, and Zonkey's existence mode (arXiv 2601.21768) with gradients into log p. The math and every formula
// are in kernels/.../attention/FlashAttentionReference.java; the Java launchers are FlashAttentionCuda.java.
//
// Kernels (T = storage type; A = accumulation type: double for F64, float otherwise):
//   fa_forward_<t>         general tiled forward, one CTA per (query block, query head, batch row): online
//                          softmax over key tiles, writes O (T) and the logsumexp (A). Any head dim, every option.
//   fa_bwd_dot_<t>         backward pre-pass D_i = dO_i·O_i.
//   fa_backward_<t>        general backward, one CTA per (key block, kv head, batch row) looping over the query
//                          heads of its group and every query block that sees the keys: recomputes P = exp(S − L)
//                          from the saved logsumexp; dK, dV accumulate in shared memory and are written once; dQ is
//                          accumulated with atomicAdd into an A buffer; per-head column sums of dS (key bias and the
//                          key part of the existence gradient) are owned by the CTA, written without atomics; the row
//                          sums Σ_{j>i} dS_ij (query part of the existence gradient) use atomicAdd.
//   fa_dq_convert_<t>      A → T for dQ (BF16).
//   fa_reduce_heads_<a>    Σ over heads of per-head sums, times a sign and the clamp's gradient (a = f32 / f64).
//   fa_forward_mma64_bf16, fa_forward_mma128_bf16
//                          tensor-core BF16 forward (mma.sync m16n8k16 + ldmatrix + cp.async) for head dims 64
//                          and 128, causal or not, with per-row key lengths and no other mask: 4 warps, 64 query
//                          rows per CTA (16 per warp), 64-key tiles, exp2 with scale·log2(e) folded in.
//   fa_decode_<t>, fa_decode_combine_<t>
//                          one query per (batch row, head) over a KV cache (split over keys, then combined).
//
// Fully masked rows (no visible key, or −∞ for every visible key) give O = 0, L = −∞ and zero gradients, never NaN:
// a running max of −∞ is replaced by 0 before it is subtracted.
#include "tessera.cuh"

template <typename T> using AccOf = typename TsAcc<T>::type;

template <typename A> __device__ __forceinline__ A fa_ninf();
template <> __device__ __forceinline__ float fa_ninf<float>() { return __int_as_float(0xff800000); }
template <> __device__ __forceinline__ double fa_ninf<double>() { return __longlong_as_double(0xfff0000000000000ULL); }

// ---------------------------------------------------------------------------------------------------- geometry

// The masks of AttentionOptions: query i of batch row b (position t = i + keyLen[b] − Lq) sees the keys [lo, hi).
struct FaGeo {
    int B, Hq, Hkv, Lq, Lk, P;
    int causal, window;     // window −1 = none
    const int* keyLen;      // [B], or null when every row has all Lk keys
    const int* docStart;    // [Lk] packed documents (Lq = Lk), or null
    const int* docEnd;
    int biasHeads;          // 0 none, 1 [B,Lk], Hq [B,Hq,Lk]
};

__device__ __forceinline__ int fa_lo(const FaGeo& g, int kl, int i) {
    long long t = (long long) i + kl - g.Lq;
    long long lo = g.docStart ? g.docStart[i] : 0;
    if (g.window >= 0) lo = max(lo, t - g.window);
    return (int) min(max(lo, 0LL), (long long) g.Lk);
}

__device__ __forceinline__ int fa_hi(const FaGeo& g, int kl, int i) {
    long long t = (long long) i + kl - g.Lq;
    long long hi = kl;
    if (g.docEnd) hi = min(hi, (long long) g.docEnd[i]);
    if (g.causal) hi = min(hi, t + 1);
    else if (g.window >= 0) hi = min(hi, t + g.window + 1);
    return (int) max(hi, (long long) fa_lo(g, kl, i));
}

// The additive part of logit (i, j) that is not the scaled dot product: key bias and existence bias; −∞ hides.
template <typename A>
__device__ __forceinline__ A fa_extra(const FaGeo& g, const A* bias, const A* lpq, const A* lpk, A logpMin, int b, int h, int i, int j) {
    A e = 0;
    if (lpq) {
        A lq = lpq[(long long) b * g.Lq + i], lk = lpk[(long long) b * g.Lk + j];
        if (lq == fa_ninf<A>() || lk == fa_ninf<A>()) return fa_ninf<A>();
        if (j > i) e = max(lk, logpMin) - max(lq, logpMin);
    }
    if (g.biasHeads == 1) e += bias[(long long) b * g.Lk + j];
    else if (g.biasHeads > 1) e += bias[((long long) b * g.Hq + h) * g.Lk + j];
    return e;
}

#define FA_GEO_PARAMS                                                                                             \
    int B, int Hq, int Hkv, int Lq, int Lk, int P, int causal, int window, const int* keyLen, const int* docStart,  \
        const int* docEnd, int biasHeads, const void* bias, const void* lpq, const void* lpk, double logpMin,       \
        double scale
#define FA_GEO_ARGS B, Hq, Hkv, Lq, Lk, P, causal, window, keyLen, docStart, docEnd, biasHeads, bias, lpq, lpk, logpMin, scale
#define FA_GEO_MAKE FaGeo g = {B, Hq, Hkv, Lq, Lk, P, causal, window, keyLen, docStart, docEnd, biasHeads}

// ---------------------------------------------------------------------------------------------------- general forward

// Dynamic shared memory (A): Q [BR][P], K [BC][P+1], V [BC][P], O [BR][P], S [BR][BC+1], m, l, alpha [BR]; int lo, hi [BR].
template <typename T>
__device__ void fa_forward_impl(FA_GEO_PARAMS, const T* q, const T* k, const T* v, T* o, AccOf<T>* lse, int BR, int BC) {
    typedef AccOf<T> A;
    FA_GEO_MAKE;
    TS_DYNAMIC_SHARED(16, fa_smem);
    const int ldk = P + 1, lds = BC + 1;
    A* Qs = (A*) fa_smem;
    A* Ks = Qs + BR * P;
    A* Vs = Ks + BC * ldk;
    A* Os = Vs + BC * P;
    A* Ss = Os + BR * P;
    A* rowM = Ss + BR * lds;
    A* rowL = rowM + BR;
    A* rowA = rowL + BR;
    int* rlo = (int*) (rowA + BR);
    int* rhi = rlo + BR;
    const A* biasA = (const A*) bias;
    const A* lpqA = (const A*) lpq;
    const A* lpkA = (const A*) lpk;
    const A sc = (A) scale, lmin = (A) logpMin;

    const int b = blockIdx.z, h = blockIdx.y, i0 = blockIdx.x * BR, hk = h / (Hq / Hkv);
    const int rows = min(BR, Lq - i0), kl = keyLen != nullptr ? keyLen[b] : Lk, tid = threadIdx.x, nt = blockDim.x;
    const T* qg = q + (((long long) b * Hq + h) * Lq + i0) * P;
    const T* kg = k + ((long long) b * Hkv + hk) * Lk * P;
    const T* vg = v + ((long long) b * Hkv + hk) * Lk * P;

    for (int e = tid; e < BR * P; e += nt) {
        int r = e / P;
        Qs[e] = r < rows ? ts_acc(qg[e]) : (A) 0;
        Os[e] = 0;
    }
    for (int r = tid; r < BR; r += nt) {
        int lo = 0, hi = 0;
        if (r < rows) {
            lo = fa_lo(g, kl, i0 + r);
            hi = fa_hi(g, kl, i0 + r);
            if (lpqA && lpqA[(long long) b * Lq + i0 + r] == fa_ninf<A>()) hi = lo; // the query does not exist
        }
        rlo[r] = lo;
        rhi[r] = hi;
        rowM[r] = fa_ninf<A>();
        rowL[r] = 0;
    }
    __syncthreads();
    int jlo = Lk, jhi = 0;
    for (int r = 0; r < rows; r++) {
        if (rhi[r] > rlo[r]) {
            jlo = min(jlo, rlo[r]);
            jhi = max(jhi, rhi[r]);
        }
    }
    for (int j0 = jlo; j0 < jhi; j0 += BC) {
        const int n = min(BC, jhi - j0);
        for (int e = tid; e < BC * P; e += nt) {
            int c = e / P, p = e - c * P;
            bool in = c < n;
            Ks[c * ldk + p] = in ? ts_acc(kg[(long long) (j0 + c) * P + p]) : (A) 0;
            Vs[e] = in ? ts_acc(vg[(long long) (j0 + c) * P + p]) : (A) 0;
        }
        __syncthreads();
        for (int e = tid; e < BR * BC; e += nt) {
            int r = e / BC, c = e - r * BC, j = j0 + c;
            A s = fa_ninf<A>();
            if (r < rows && c < n && j >= rlo[r] && j < rhi[r]) {
                A x = fa_extra<A>(g, biasA, lpqA, lpkA, lmin, b, h, i0 + r, j);
                if (x != fa_ninf<A>()) {
                    A dot = 0;
                    const A* qr = Qs + r * P;
                    const A* kr = Ks + c * ldk;
                    for (int p = 0; p < P; p++) dot += qr[p] * kr[p];
                    s = sc * dot + x;
                }
            }
            Ss[r * lds + c] = s;
        }
        __syncthreads();
        for (int r = tid; r < BR; r += nt) {
            A* sr = Ss + r * lds;
            A mx = fa_ninf<A>();
            for (int c = 0; c < n; c++) mx = max(mx, sr[c]);
            A mOld = rowM[r], mNew = max(mOld, mx);
            A mUse = mNew == fa_ninf<A>() ? (A) 0 : mNew; // all −∞ so far: exp(−∞ − 0) = 0, never NaN
            A alpha = exp(mOld - mUse), sum = 0;
            for (int c = 0; c < n; c++) {
                A pr = exp(sr[c] - mUse);
                sr[c] = pr;
                sum += pr;
            }
            rowL[r] = rowL[r] * alpha + sum;
            rowM[r] = mNew;
            rowA[r] = alpha;
        }
        __syncthreads();
        for (int e = tid; e < BR * P; e += nt) {
            int r = e / P, p = e - r * P;
            const A* sr = Ss + r * lds;
            A acc = Os[e] * rowA[r];
            for (int c = 0; c < n; c++) acc += sr[c] * Vs[c * P + p];
            Os[e] = acc;
        }
        __syncthreads();
    }
    T* og = o + (((long long) b * Hq + h) * Lq + i0) * P;
    for (int e = tid; e < rows * P; e += nt) {
        A l = rowL[e / P];
        og[e] = ts_from_acc<T>(l > 0 ? Os[e] / l : (A) 0);
    }
    for (int r = tid; r < rows; r += nt) {
        A l = rowL[r];
        lse[((long long) b * Hq + h) * Lq + i0 + r] = l > 0 ? rowM[r] + log(l) : fa_ninf<A>();
    }
}

TS_FLOAT_ENTRIES(fa_forward,
                 (FA_GEO_PARAMS, const void* q, const void* k, const void* v, void* o, void* lse, int BR, int BC),
                 (FA_GEO_ARGS, (const T*) q, (const T*) k, (const T*) v, (T*) o, (AccOf<T>*) lse, BR, BC))

// ---------------------------------------------------------------------------------------------------- backward

// D_i = dO_i · O_i, one warp per row.
template <typename T>
__device__ void fa_bwd_dot_impl(const T* o, const T* dout, AccOf<T>* dsum, long long rows, int P) {
    typedef AccOf<T> A;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    long long warps = ((long long) gridDim.x * blockDim.x) >> 5;
    int lane = threadIdx.x & 31;
    for (long long r = warp; r < rows; r += warps) {
        A acc = 0;
        for (int p = lane; p < P; p += 32) acc += ts_acc(o[r * P + p]) * ts_acc(dout[r * P + p]);
        acc = ts_warp_sum(acc);
        if (lane == 0) dsum[r] = acc;
    }
}

TS_FLOAT_ENTRIES(fa_bwd_dot, (const void* o, const void* dout, void* dsum, long long rows, int P),
                 ((const T*) o, (const T*) dout, (AccOf<T>*) dsum, rows, P))

// Dynamic shared memory (A): K, V [BC][P+1]; dK, dV [BC][P]; Q, dO [BR][P+1]; P, dS [BR][BC+1]; L, D [BR];
// column sums [BC] ×2; int lo, hi [BR].
template <typename T>
__device__ void fa_backward_impl(FA_GEO_PARAMS, const T* q, const T* k, const T* v, const T* dout, const AccOf<T>* lse,
                                 const AccOf<T>* dsum, AccOf<T>* dqAcc, T* dk, T* dv, AccOf<T>* colSum,
                                 AccOf<T>* colAfter, AccOf<T>* rowAfter, int BR, int BC) {
    typedef AccOf<T> A;
    FA_GEO_MAKE;
    TS_DYNAMIC_SHARED(16, fa_smem);
    const int ld = P + 1, lds = BC + 1;
    A* Ks = (A*) fa_smem;
    A* Vs = Ks + BC * ld;
    A* dKs = Vs + BC * ld;
    A* dVs = dKs + BC * P;
    A* Qs = dVs + BC * P;
    A* dOs = Qs + BR * ld;
    A* Ps = dOs + BR * ld;
    A* dSs = Ps + BR * lds;
    A* rL = dSs + BR * lds;
    A* rD = rL + BR;
    A* cSum = rD + BR;
    A* cAfter = cSum + BC;
    int* rlo = (int*) (cAfter + BC);
    int* rhi = rlo + BR;
    const A* biasA = (const A*) bias;
    const A* lpqA = (const A*) lpq;
    const A* lpkA = (const A*) lpk;
    const A sc = (A) scale, lmin = (A) logpMin;

    const int b = blockIdx.z, hk = blockIdx.y, j0 = blockIdx.x * BC, group = Hq / Hkv;
    const int n = min(BC, Lk - j0), kl = keyLen != nullptr ? keyLen[b] : Lk, tid = threadIdx.x, nt = blockDim.x;
    const long long kvBase = ((long long) b * Hkv + hk) * Lk * P;
    for (int e = tid; e < BC * P; e += nt) {
        int c = e / P, p = e - c * P;
        bool in = c < n;
        Ks[c * ld + p] = in ? ts_acc(k[kvBase + (long long) (j0 + c) * P + p]) : (A) 0;
        Vs[c * ld + p] = in ? ts_acc(v[kvBase + (long long) (j0 + c) * P + p]) : (A) 0;
        dKs[e] = 0;
        dVs[e] = 0;
    }
    const int qBlocks = (Lq + BR - 1) / BR;
    for (int h = hk * group; h < (hk + 1) * group; h++) {
        const long long bh = (long long) b * Hq + h;
        for (int c = tid; c < BC; c += nt) {
            cSum[c] = 0;
            cAfter[c] = 0;
        }
        for (int qb = 0; qb < qBlocks; qb++) {
            const int i0 = qb * BR, rows = min(BR, Lq - i0);
            // Rows' key ranges grow with i (lo and hi are non-decreasing), so [lo(i0), hi(last)) covers the block.
            if (fa_lo(g, kl, i0) >= j0 + n || fa_hi(g, kl, i0 + rows - 1) <= j0) continue;
            __syncthreads(); // the previous block's tiles are no longer read
            for (int e = tid; e < BR * P; e += nt) {
                int r = e / P, p = e - r * P;
                bool in = r < rows;
                Qs[r * ld + p] = in ? ts_acc(q[(bh * Lq + i0 + r) * P + p]) : (A) 0;
                dOs[r * ld + p] = in ? ts_acc(dout[(bh * Lq + i0 + r) * P + p]) : (A) 0;
            }
            for (int r = tid; r < BR; r += nt) {
                int lo = 0, hi = 0;
                A L = fa_ninf<A>(), D = 0;
                if (r < rows) {
                    lo = fa_lo(g, kl, i0 + r);
                    hi = fa_hi(g, kl, i0 + r);
                    L = lse[bh * Lq + i0 + r];
                    D = dsum[bh * Lq + i0 + r];
                }
                rlo[r] = lo;
                rhi[r] = hi;
                rL[r] = L;
                rD[r] = D;
            }
            __syncthreads();
            for (int e = tid; e < BR * BC; e += nt) {
                int r = e / BC, c = e - r * BC, i = i0 + r, j = j0 + c;
                A pr = 0, ds = 0;
                if (r < rows && c < n && j >= rlo[r] && j < rhi[r] && rL[r] != fa_ninf<A>()) {
                    A x = fa_extra<A>(g, biasA, lpqA, lpkA, lmin, b, h, i, j);
                    if (x != fa_ninf<A>()) {
                        A dot = 0, dp = 0;
                        const A* qr = Qs + r * ld;
                        const A* dr = dOs + r * ld;
                        const A* kr = Ks + c * ld;
                        const A* vr = Vs + c * ld;
                        for (int p = 0; p < P; p++) {
                            dot += qr[p] * kr[p];
                            dp += dr[p] * vr[p];
                        }
                        pr = exp(sc * dot + x - rL[r]);
                        ds = pr * (dp - rD[r]);
                    }
                }
                Ps[r * lds + c] = pr;
                dSs[r * lds + c] = ds;
            }
            __syncthreads();
            // dV += Pᵀ·dO, dK += dSᵀ·Q (scale applied once at the end).
            for (int e = tid; e < BC * P; e += nt) {
                int c = e / P, p = e - c * P;
                A av = 0, ak = 0;
                for (int r = 0; r < rows; r++) {
                    av += Ps[r * lds + c] * dOs[r * ld + p];
                    ak += dSs[r * lds + c] * Qs[r * ld + p];
                }
                dVs[e] += av;
                dKs[e] += ak;
            }
            // dQ += scale·dS·K, accumulated across key blocks with atomics.
            for (int e = tid; e < rows * P; e += nt) {
                int r = e / P, p = e - r * P;
                A acc = 0;
                for (int c = 0; c < n; c++) acc += dSs[r * lds + c] * Ks[c * ld + p];
                if (acc != 0) atomicAdd(dqAcc + (bh * Lq + i0 + r) * P + p, sc * acc);
            }
            if (colSum || colAfter) {
                for (int c = tid; c < n; c += nt) {
                    A all = 0, after = 0;
                    for (int r = 0; r < rows; r++) {
                        A ds = dSs[r * lds + c];
                        all += ds;
                        if (j0 + c > i0 + r) after += ds;
                    }
                    cSum[c] += all;
                    cAfter[c] += after;
                }
            }
            if (rowAfter) {
                for (int r = tid; r < rows; r += nt) {
                    A after = 0;
                    for (int c = max(0, i0 + r + 1 - j0); c < n; c++) after += dSs[r * lds + c];
                    if (after != 0) atomicAdd(rowAfter + bh * Lq + i0 + r, after);
                }
            }
        }
        __syncthreads();
        for (int c = tid; c < n; c += nt) {
            if (colSum) colSum[bh * Lk + j0 + c] = cSum[c];
            if (colAfter) colAfter[bh * Lk + j0 + c] = cAfter[c];
        }
        __syncthreads();
    }
    for (int e = tid; e < n * P; e += nt) {
        dk[kvBase + (long long) j0 * P + e] = ts_from_acc<T>(sc * dKs[e]);
        dv[kvBase + (long long) j0 * P + e] = ts_from_acc<T>(dVs[e]);
    }
}

TS_FLOAT_ENTRIES(fa_backward,
                 (FA_GEO_PARAMS, const void* q, const void* k, const void* v, const void* dout, const void* lse,
                  const void* dsum, void* dqAcc, void* dk, void* dv, void* colSum, void* colAfter, void* rowAfter,
                  int BR, int BC),
                 (FA_GEO_ARGS, (const T*) q, (const T*) k, (const T*) v, (const T*) dout, (const AccOf<T>*) lse,
                  (const AccOf<T>*) dsum, (AccOf<T>*) dqAcc, (T*) dk, (T*) dv, (AccOf<T>*) colSum,
                  (AccOf<T>*) colAfter, (AccOf<T>*) rowAfter, BR, BC))

template <typename T>
__device__ void fa_dq_convert_impl(const AccOf<T>* src, T* dst, long long n) {
    TS_GRID_LOOP(i, n) dst[i] = ts_from_acc<T>(src[i]);
}

TS_FLOAT_ENTRIES(fa_dq_convert, (const void* src, void* dst, long long n), ((const AccOf<T>*) src, (T*) dst, n))

// out[b, j] = sign · Σ_h in[(b·H + h)·L + j] · (logp ? [logp[b, j] ≥ logpMin] : 1), heads added in order. The clamp
// test is in double, as the CPU's (a float log p just below log 1e−20 gets no gradient there either).
template <typename A>
__device__ void fa_reduce_heads_impl(const A* in, A* out, const A* logp, long long rows, int heads, int len, A sign, double logpMin) {
    TS_GRID_LOOP(x, rows * len) {
        long long b = x / len, j = x - b * len;
        A acc = 0;
        for (int h = 0; h < heads; h++) acc += in[(b * heads + h) * len + j];
        acc *= sign;
        if (logp && !((double) logp[x] >= logpMin)) acc = 0;
        out[x] = acc;
    }
}

extern "C" __global__ void fa_reduce_heads_f32(const float* in, float* out, const float* logp, long long rows, int heads,
                                               int len, double sign, double logpMin) {
    fa_reduce_heads_impl<float>(in, out, logp, rows, heads, len, (float) sign, logpMin);
}
extern "C" __global__ void fa_reduce_heads_f64(const double* in, double* out, const double* logp, long long rows, int heads,
                                               int len, double sign, double logpMin) {
    fa_reduce_heads_impl<double>(in, out, logp, rows, heads, len, sign, logpMin);
}

// ---------------------------------------------------------------------------------------------------- decode

#define FA_DECODE_WARPS 4
#define FA_DECODE_MAX_PER_LANE 8 // head dim ≤ 256

// One query per (batch row, query head) over keys [lo, keyLen[b]) of a cache [B,Hkv,kvStride,P]
// (lo = keyLen − 1 − window with a window); keyLen null: every row has kLen keys (nothing uploaded for the lengths). Split s of `splits` takes keys [lo + s·chunk, lo + (s+1)·chunk) and writes
// its partial (running max, sum, unnormalised output) to part[((b·Hq + h)·splits + s)·(P + 2) ...].
// Each warp takes every 4th key: lanes split the head dim, a warp sum gives the logit.
template <typename T>
__device__ void fa_decode_impl(const T* q, const T* k, const T* v, AccOf<T>* part, int Hq, int Hkv, int P, long long kvStride,
                               const int* keyLen, int kLen, int window, double scale, int splits, int chunk) {
    typedef AccOf<T> A;
    __shared__ A wm[FA_DECODE_WARPS], wl[FA_DECODE_WARPS];
    TS_DYNAMIC_SHARED(16, fa_smem);
    A* wacc = (A*) fa_smem; // [warps][P]
    const int s = blockIdx.x, h = blockIdx.y, b = blockIdx.z, hk = h / (Hq / Hkv);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int kl = keyLen != nullptr ? keyLen[b] : kLen;
    const int lo = window >= 0 ? max(0, kl - 1 - window) : 0;
    const int start = lo + s * chunk, end = min(kl, start + chunk);
    const T* qg = q + ((long long) b * Hq + h) * P;
    const T* kg = k + ((long long) b * Hkv + hk) * kvStride * P;
    const T* vg = v + ((long long) b * Hkv + hk) * kvStride * P;
    A qv[FA_DECODE_MAX_PER_LANE], acc[FA_DECODE_MAX_PER_LANE];
#pragma unroll
    for (int e = 0; e < FA_DECODE_MAX_PER_LANE; e++) {
        int d = lane + 32 * e;
        qv[e] = d < P ? ts_acc(qg[d]) * (A) scale : (A) 0;
        acc[e] = 0;
    }
    A m = fa_ninf<A>(), l = 0;
    for (int j = start + warp; j < end; j += FA_DECODE_WARPS) {
        const T* kr = kg + (long long) j * P;
        const T* vr = vg + (long long) j * P;
        A dot = 0;
#pragma unroll
        for (int e = 0; e < FA_DECODE_MAX_PER_LANE; e++) {
            int d = lane + 32 * e;
            if (d < P) dot += qv[e] * ts_acc(kr[d]);
        }
        dot = ts_warp_sum(dot);
        A mNew = max(m, dot);
        A alpha = exp(m - mNew), pr = exp(dot - mNew); // m = −∞ at the first key: alpha = 0
        l = l * alpha + pr;
#pragma unroll
        for (int e = 0; e < FA_DECODE_MAX_PER_LANE; e++) {
            int d = lane + 32 * e;
            if (d < P) acc[e] = acc[e] * alpha + pr * ts_acc(vr[d]);
        }
        m = mNew;
    }
    if (lane == 0) {
        wm[warp] = m;
        wl[warp] = l;
    }
#pragma unroll
    for (int e = 0; e < FA_DECODE_MAX_PER_LANE; e++) {
        int d = lane + 32 * e;
        if (d < P) wacc[warp * P + d] = acc[e];
    }
    __syncthreads();
    A M = fa_ninf<A>();
    for (int w = 0; w < FA_DECODE_WARPS; w++) M = max(M, wm[w]);
    A f[FA_DECODE_WARPS], L = 0;
    for (int w = 0; w < FA_DECODE_WARPS; w++) {
        f[w] = wm[w] == fa_ninf<A>() ? (A) 0 : exp(wm[w] - M);
        L += f[w] * wl[w];
    }
    A* out = part + (((long long) b * Hq + h) * splits + s) * (P + 2);
    if (threadIdx.x == 0) {
        out[0] = M;
        out[1] = L;
    }
    for (int d = threadIdx.x; d < P; d += blockDim.x) {
        A x = 0;
        for (int w = 0; w < FA_DECODE_WARPS; w++) x += f[w] * wacc[w * P + d];
        out[2 + d] = x;
    }
}

TS_FLOAT_ENTRIES(fa_decode,
                 (const void* q, const void* k, const void* v, void* part, int Hq, int Hkv, int P, long long kvStride,
                  const int* keyLen, int kLen, int window, double scale, int splits, int chunk),
                 ((const T*) q, (const T*) k, (const T*) v, (AccOf<T>*) part, Hq, Hkv, P, kvStride, keyLen, kLen, window, scale,
                  splits, chunk))

// Combines the splits of one (b, h): one CTA per (h, b).
template <typename T>
__device__ void fa_decode_combine_impl(const AccOf<T>* part, T* o, AccOf<T>* lse, int Hq, int P, int splits) {
    typedef AccOf<T> A;
    const int h = blockIdx.x, b = blockIdx.y;
    const long long bh = (long long) b * Hq + h;
    const A* pp = part + bh * splits * (P + 2);
    A M = fa_ninf<A>();
    for (int s = 0; s < splits; s++) M = max(M, pp[s * (P + 2)]);
    A L = 0;
    for (int s = 0; s < splits; s++) {
        A ms = pp[s * (P + 2)];
        if (ms != fa_ninf<A>()) L += exp(ms - M) * pp[s * (P + 2) + 1];
    }
    for (int d = threadIdx.x; d < P; d += blockDim.x) {
        A x = 0;
        for (int s = 0; s < splits; s++) {
            A ms = pp[s * (P + 2)];
            if (ms != fa_ninf<A>()) x += exp(ms - M) * pp[s * (P + 2) + 2 + d];
        }
        o[bh * P + d] = ts_from_acc<T>(L > 0 ? x / L : (A) 0);
    }
    if (threadIdx.x == 0) lse[bh] = L > 0 ? M + log(L) : fa_ninf<A>();
}

TS_FLOAT_ENTRIES(fa_decode_combine, (const void* part, void* o, void* lse, int Hq, int P, int splits),
                 ((const AccOf<T>*) part, (T*) o, (AccOf<T>*) lse, Hq, P, splits))

// ---------------------------------------------------------------------------------------------------- tensor-core BF16 forward

#define FA_MMA_BR 64 // query rows per CTA: 4 warps × 16
#define FA_MMA_BC 64 // keys per tile
#define FA_MMA_THREADS 128

__device__ __forceinline__ void fa_cp_async16(void* smem, const void* gmem, int bytes) {
#ifdef TESSERA_CUDA_EMULATION
    tessera_emu::require_aligned(smem, 16, "cp.async (shared address)");
    tessera_emu::require_aligned(gmem, 16, "cp.async (global address)");
    std::memcpy(smem, gmem, bytes); // synchronous: commit and wait have nothing left to do
    std::memset((char*) smem + bytes, 0, 16 - bytes);
#else
    unsigned s = (unsigned) __cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
#endif
}
#ifdef TESSERA_CUDA_EMULATION
__device__ __forceinline__ void fa_cp_commit() {}
__device__ __forceinline__ void fa_cp_wait_all() {}
#else
__device__ __forceinline__ void fa_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void fa_cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
#endif

__device__ __forceinline__ void fa_ldmatrix_x4(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const void* smem) {
#ifdef TESSERA_CUDA_EMULATION
    unsigned r[4];
    ::tessera_emu::ldmatrix_x4(r, smem, false);
    r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
#else
    unsigned s = (unsigned) __cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(s));
#endif
}
__device__ __forceinline__ void fa_ldmatrix_x4_trans(unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3, const void* smem) {
#ifdef TESSERA_CUDA_EMULATION
    unsigned r[4];
    ::tessera_emu::ldmatrix_x4(r, smem, true);
    r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
#else
    unsigned s = (unsigned) __cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(s));
#endif
}

// d (16×8 f32) += a (16×16 bf16, row) · b (16×8 bf16, col).
__device__ __forceinline__ void fa_mma_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
#ifdef TESSERA_CUDA_EMULATION
    ::tessera_emu::mma_m16n8k16_bf16(d, a, b0, b1);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

__device__ __forceinline__ unsigned fa_pack_bf16(float lo, float hi) {
    __nv_bfloat162 x = __floats2bfloat162_rn(lo, hi); // .x (low 16 bits) = lo
    return *reinterpret_cast<unsigned*>(&x);
}

__device__ __forceinline__ float fa_exp2(float x) {
#ifdef TESSERA_CUDA_EMULATION
    return exp2f(x); // ex2.approx: within 2 ulp of this
#else
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
#endif
}

// Rows of a shared-memory tile hold SD = D rounded up to 64 elements: the XOR swizzle below permutes a row's
// 16-byte chunks among SD / 8 slots, a multiple of 8, so head dims 48 and 96 use it too (slots no chunk maps to stay unused).
template <int D> struct FaTileRow { static constexpr int SD = (D + 63) / 64 * 64; };

// Element offset of 16-byte chunk c of row r in a [rows][SD] bf16 tile, XOR-swizzled so that the 8 rows an
// ldmatrix reads at one column fall in 8 different bank groups.
template <int D> __device__ __forceinline__ int fa_swz(int r, int c) { return r * FaTileRow<D>::SD + ((c ^ (r & 7)) << 3); }

// Queues a [ROWS][D] tile starting at row `row0` of a row-major [*, D] matrix; rows ≥ valid are zero-filled.
template <int D, int ROWS>
__device__ __forceinline__ void fa_load_tile(__nv_bfloat16* smem, const __nv_bfloat16* g, int valid) {
    constexpr int CH = D / 8;
    for (int x = threadIdx.x; x < ROWS * CH; x += FA_MMA_THREADS) {
        int r = x / CH, c = x - r * CH;
        bool in = r < valid;
        fa_cp_async16(smem + fa_swz<D>(r, c), in ? g + (long long) r * D + c * 8 : g, in ? 16 : 0);
    }
}

// q [B,Hq,Lq,D], k, v [B,Hkv,Lk,D], o [B,Hq,Lq,D] bf16; lse [B,Hq,Lq] fp32. keyLen [B] (or null: Lk);
// queries are the last Lq positions of the keyLen[b] keys; causal: key j ≤ i + keyLen[b] − Lq.
// scaleLog2 = scale·log2(e). Grid (ceil(Lq/64), Hq, B), 128 threads, dynamic shared memory 3·64·SD·2 bytes
// (SD = D rounded up to 64). D is 48, 64, 96 or 128: a multiple of 16 for the k-steps and n-tile pairs.
template <int D>
__device__ void fa_forward_mma_impl(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                    const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ o, float* __restrict__ lse,
                                    int Hq, int Hkv, int Lq, int Lk, const int* keyLen, int causal, float scaleLog2) {
    constexpr int KS = D / 16;          // k-steps of Q·Kᵀ
    constexpr int NT = FA_MMA_BC / 8;   // n-tiles of S
    constexpr int DT = D / 8;           // n-tiles of O
    constexpr int SD = FaTileRow<D>::SD;
    static_assert(D % 16 == 0, "head dim a multiple of 16");
    TS_DYNAMIC_SHARED(128, fa_smem);
    __nv_bfloat16* Qs = (__nv_bfloat16*) fa_smem;
    __nv_bfloat16* Ks = Qs + FA_MMA_BR * SD;
    __nv_bfloat16* Vs = Ks + FA_MMA_BC * SD;

    const int b = blockIdx.z, h = blockIdx.y;
    const int i0 = (gridDim.x - 1 - blockIdx.x) * FA_MMA_BR; // the longest causal rows first
    const int hk = h / (Hq / Hkv), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int kl = keyLen ? keyLen[b] : Lk, off = kl - Lq;
    int kend = kl;
    if (causal) kend = max(0, min(kl, i0 + FA_MMA_BR + off));
    const int tiles = (kend + FA_MMA_BC - 1) / FA_MMA_BC;

    const __nv_bfloat16* qg = q + (((long long) b * Hq + h) * Lq + i0) * D;
    const __nv_bfloat16* kg = k + ((long long) b * Hkv + hk) * Lk * D;
    const __nv_bfloat16* vg = v + ((long long) b * Hkv + hk) * Lk * D;

    fa_load_tile<D, FA_MMA_BR>(Qs, qg, min(FA_MMA_BR, Lq - i0));
    fa_cp_commit();
    if (tiles > 0) fa_load_tile<D, FA_MMA_BC>(Ks, kg, min(FA_MMA_BC, kl));
    fa_cp_commit();
    fa_cp_wait_all();
    __syncthreads();

    unsigned qf[KS][4];
#pragma unroll
    for (int kk = 0; kk < KS; kk++) {
        int r = warp * 16 + (lane & 15), c = kk * 2 + (lane >> 4);
        fa_ldmatrix_x4(qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3], Qs + fa_swz<D>(r, c));
    }
    float oacc[DT][4];
#pragma unroll
    for (int t = 0; t < DT; t++) oacc[t][0] = oacc[t][1] = oacc[t][2] = oacc[t][3] = 0.f;
    const float NINF = __int_as_float(0xff800000);
    float m0 = NINF, m1 = NINF, l0 = 0.f, l1 = 0.f; // rows g and g + 8 of this warp (g = lane / 4)
    const int row0 = i0 + warp * 16 + (lane >> 2), row1 = row0 + 8;

    for (int t = 0; t < tiles; t++) {
        const int j0 = t * FA_MMA_BC;
        if (t > 0) {
            fa_cp_wait_all(); // K_t
            __syncthreads();  // and every warp is done with V_{t−1}
        }
        fa_load_tile<D, FA_MMA_BC>(Vs, vg + (long long) j0 * D, min(FA_MMA_BC, kl - j0));
        fa_cp_commit();

        float s[NT][4];
#pragma unroll
        for (int x = 0; x < NT; x++) s[x][0] = s[x][1] = s[x][2] = s[x][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
#pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                unsigned b0, b1, b2, b3;
                int r = np * 16 + (lane & 7) + ((lane >> 4) << 3), c = kk * 2 + ((lane >> 3) & 1);
                fa_ldmatrix_x4(b0, b1, b2, b3, Ks + fa_swz<D>(r, c));
                fa_mma_bf16(s[2 * np], qf[kk], b0, b1);
                fa_mma_bf16(s[2 * np + 1], qf[kk], b2, b3);
            }
        }
        const bool mask = j0 + FA_MMA_BC > kl || (causal && j0 + FA_MMA_BC - 1 > i0 + off);
        float mx0 = NINF, mx1 = NINF;
#pragma unroll
        for (int x = 0; x < NT; x++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float val = s[x][e] * scaleLog2;
                if (mask) {
                    int col = j0 + x * 8 + (lane & 3) * 2 + (e & 1), row = e < 2 ? row0 : row1;
                    if (col >= kl || (causal && col > row + off)) val = NINF;
                }
                s[x][e] = val;
            }
            mx0 = fmaxf(mx0, fmaxf(s[x][0], s[x][1]));
            mx1 = fmaxf(mx1, fmaxf(s[x][2], s[x][3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
        const float u0 = n0 == NINF ? 0.f : n0, u1 = n1 == NINF ? 0.f : n1; // fully masked so far: no NaN
        const float a0 = fa_exp2(m0 - u0), a1 = fa_exp2(m1 - u1);
        m0 = n0;
        m1 = n1;
        float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
        for (int x = 0; x < NT; x++) {
            s[x][0] = fa_exp2(s[x][0] - u0);
            s[x][1] = fa_exp2(s[x][1] - u0);
            s[x][2] = fa_exp2(s[x][2] - u1);
            s[x][3] = fa_exp2(s[x][3] - u1);
            sum0 += s[x][0] + s[x][1];
            sum1 += s[x][2] + s[x][3];
        }
        l0 = l0 * a0 + sum0; // per-thread partial sums; the quad is summed once at the end
        l1 = l1 * a1 + sum1;
#pragma unroll
        for (int x = 0; x < DT; x++) {
            oacc[x][0] *= a0;
            oacc[x][1] *= a0;
            oacc[x][2] *= a1;
            oacc[x][3] *= a1;
        }

        fa_cp_wait_all(); // V_t
        __syncthreads();  // and every warp is done with K_t
        if (t + 1 < tiles) fa_load_tile<D, FA_MMA_BC>(Ks, kg + (long long) (j0 + FA_MMA_BC) * D, min(FA_MMA_BC, kl - j0 - FA_MMA_BC));
        fa_cp_commit();

#pragma unroll
        for (int kk = 0; kk < FA_MMA_BC / 16; kk++) {
            unsigned pa[4];
            pa[0] = fa_pack_bf16(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = fa_pack_bf16(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = fa_pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = fa_pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                unsigned b0, b1, b2, b3;
                int r = kk * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), c = dp * 2 + (lane >> 4);
                fa_ldmatrix_x4_trans(b0, b1, b2, b3, Vs + fa_swz<D>(r, c));
                fa_mma_bf16(oacc[2 * dp], pa, b0, b1);
                fa_mma_bf16(oacc[2 * dp + 1], pa, b2, b3);
            }
        }
    }
    fa_cp_wait_all();

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
    const long long bh = (long long) b * Hq + h;
    const int col = (lane & 3) * 2;
    if (row0 < Lq) {
        unsigned* orow = reinterpret_cast<unsigned*>(o + (bh * Lq + row0) * D + col);
#pragma unroll
        for (int x = 0; x < DT; x++) orow[x * 4] = fa_pack_bf16(oacc[x][0] * inv0, oacc[x][1] * inv0);
        if ((lane & 3) == 0) lse[bh * Lq + row0] = l0 > 0.f ? (m0 + __log2f(l0)) * 0.6931471805599453f : NINF;
    }
    if (row1 < Lq) {
        unsigned* orow = reinterpret_cast<unsigned*>(o + (bh * Lq + row1) * D + col);
#pragma unroll
        for (int x = 0; x < DT; x++) orow[x * 4] = fa_pack_bf16(oacc[x][2] * inv1, oacc[x][3] * inv1);
        if ((lane & 3) == 0) lse[bh * Lq + row1] = l1 > 0.f ? (m1 + __log2f(l1)) * 0.6931471805599453f : NINF;
    }
}

#define FA_MMA_ENTRY(D)                                                                                                       \
    extern "C" __global__ void __launch_bounds__(FA_MMA_THREADS)                                                             \
        fa_forward_mma##D##_bf16(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, __nv_bfloat16* o, \
                                 float* lse, int Hq, int Hkv, int Lq, int Lk, const int* keyLen, int causal, float scaleLog2) {   \
        fa_forward_mma_impl<D>(q, k, v, o, lse, Hq, Hkv, Lq, Lk, keyLen, causal, scaleLog2);                                \
    }
FA_MMA_ENTRY(48)
FA_MMA_ENTRY(64)
FA_MMA_ENTRY(96)
FA_MMA_ENTRY(128)
