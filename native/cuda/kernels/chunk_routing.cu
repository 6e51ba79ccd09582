// H-Net dynamic chunk routing on the GPU (arXiv 2507.07955 §2.2; specs/kernels.md §3, specs/gpu.md §3): route,
// chunk, dechunk, their backward passes and the batched one-position step. The math and conventions are those of
// kernels/.../routing/ChunkRoutingReference.java; launchers in ChunkRoutingCuda.java.
//
// Layout of the work:
//  * route (forward/backward): one warp per position t, cosine of q_{t-1} and k_t with 16-byte loads.
//  * one scan per row (one CTA per row, block scan over the 1-byte boundary flags) gives cumsum(b) (the chunk
//    index / upsample index), the source position of every chunk, the chunk each position shows (-1 before the
//    first chunk of its sequence) and the per-row chunk count; chunk, dechunk and the backward passes share it.
//  * chunk: one warp per output row, a row copy (16-byte words when the row allows).
//  * dechunk: the EMA z̄_k = P_k·ẑ_k + (1 − P_k)·z̄_{k−1} is a linear recurrence over chunks: chunks are split into
//    segments of S; (1) each segment runs locally from 0 and records Π a (a = 1 − P, 0 at a sequence's first chunk),
//    (2) one thread per (row, channel) walks the segment carries, (3) one warp per position fixes up
//    z̄ = local + Π a · carry while upsampling (and saves z̄ for the backward at the boundary positions).
//    Backward mirrors it: gather-add of dout per chunk (+ dc), a reverse segmented scan, and a warp per chunk for
//    dẑ and dP.
//  * step: one warp per row.
// Accumulation is in float (F32, BF16, F16) or double (F64). Within a warp, lane l owns the element groups
// [g·V, g·V + V) with g ≡ l (mod 32), V = 16 / sizeof(T), and adds them in ascending order whether the loads are
// 16-byte vectors or scalars, so the step form reproduces the parallel form bit for bit.
#include "tessera.cuh"

#define RT_NORM_EPS 1e-12
#define RT_P_MIN 1e-4
#define RT_VALID 1
#define RT_START 2
#define RT_FIRST_BIT 0x80000000u
#define RT_POS_MASK 0x7fffffff

// ------------------------------------------------------------------ element groups of a row

template <typename T> struct RtVec { static constexpr int N = 16 / sizeof(T); };

__device__ __forceinline__ bool rt_aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Loads the group of N elements at row[e0 ..] into out (as A); vectorised when `vec` (then the whole group exists
// and is 16-byte aligned), else element by element with zeros past d.
template <typename T, typename A>
__device__ __forceinline__ void rt_load(const T* row, long long e0, long long d, bool vec, A* out) {
    constexpr int N = RtVec<T>::N;
    if (vec) {
        uint4 raw = *reinterpret_cast<const uint4*>(row + e0);
        const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int j = 0; j < N; ++j) out[j] = (A) ts_acc(e[j]);
    } else {
#pragma unroll
        for (int j = 0; j < N; ++j) out[j] = e0 + j < d ? (A) ts_acc(row[e0 + j]) : (A) 0;
    }
}

template <typename T, typename A>
__device__ __forceinline__ void rt_store(T* row, long long e0, long long d, bool vec, const A* v) {
    constexpr int N = RtVec<T>::N;
    if (vec) {
        uint4 raw;
        T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
        for (int j = 0; j < N; ++j) e[j] = ts_from_acc<T>((typename TsAcc<T>::type) v[j]);
        *reinterpret_cast<uint4*>(row + e0) = raw;
    } else {
#pragma unroll
        for (int j = 0; j < N; ++j) if (e0 + j < d) row[e0 + j] = ts_from_acc<T>((typename TsAcc<T>::type) v[j]);
    }
}

// Accumulator-typed rows (float or double scratch) with the same grouping as T: N·sizeof(A) bytes, a multiple of 16.
template <typename A, int N>
__device__ __forceinline__ void rt_load_acc(const A* row, long long e0, long long d, bool vec, A* out) {
    if (vec) {
#pragma unroll
        for (int q = 0; q < (int) (N * sizeof(A) / 16); ++q) {
            uint4 raw = reinterpret_cast<const uint4*>(row + e0)[q];
            const A* e = reinterpret_cast<const A*>(&raw);
#pragma unroll
            for (int j = 0; j < (int) (16 / sizeof(A)); ++j) out[q * (16 / sizeof(A)) + j] = e[j];
        }
    } else {
#pragma unroll
        for (int j = 0; j < N; ++j) out[j] = e0 + j < d ? row[e0 + j] : (A) 0;
    }
}

template <typename A, int N>
__device__ __forceinline__ void rt_store_acc(A* row, long long e0, long long d, bool vec, const A* v) {
    if (vec) {
#pragma unroll
        for (int q = 0; q < (int) (N * sizeof(A) / 16); ++q) {
            uint4 raw;
            A* e = reinterpret_cast<A*>(&raw);
#pragma unroll
            for (int j = 0; j < (int) (16 / sizeof(A)); ++j) e[j] = v[q * (16 / sizeof(A)) + j];
            reinterpret_cast<uint4*>(row + e0)[q] = raw;
        }
    } else {
#pragma unroll
        for (int j = 0; j < N; ++j) if (e0 + j < d) row[e0 + j] = v[j];
    }
}

// Number of element groups of a row of d elements.
template <typename T> __device__ __forceinline__ long long rt_groups(long long d) {
    return (d + RtVec<T>::N - 1) / RtVec<T>::N;
}

// ------------------------------------------------------------------ route math

template <typename A> __device__ __forceinline__ A rt_clamp(A v, A lo, A hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Σ q·k, Σ q·q, Σ k·k over one row pair, reduced over the warp (every lane gets the sums).
template <typename T>
__device__ __forceinline__ void rt_dot3(const T* q, const T* k, long long d, bool vec, int lane, typename TsAcc<T>::type* s) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    A dot = 0, qq = 0, kk = 0;
    long long groups = rt_groups<T>(d);
    for (long long g = lane; g < groups; g += 32) {
        A a[N], b[N];
        rt_load<T, A>(q, g * N, d, vec, a);
        rt_load<T, A>(k, g * N, d, vec, b);
#pragma unroll
        for (int j = 0; j < N; ++j) {
            dot = fma(a[j], b[j], dot);
            qq = fma(a[j], a[j], qq);
            kk = fma(b[j], b[j], kk);
        }
    }
    s[0] = ts_warp_sum(dot);
    s[1] = ts_warp_sum(qq);
    s[2] = ts_warp_sum(kk);
}

template <typename A> __device__ __forceinline__ A rt_cosine(const A* s) {
    A nq = sqrt(s[1]), nk = sqrt(s[2]), eps = (A) RT_NORM_EPS;
    return s[0] / ((nq > eps ? nq : eps) * (nk > eps ? nk : eps));
}

// p = clamp((1 − cos)/2, 0, 1).
template <typename A> __device__ __forceinline__ A rt_boundary_prob(A cos) { return rt_clamp(((A) 1 - cos) / (A) 2, (A) 0, (A) 1); }

// Stores p, b = p > 0.5 and c = b ? p : 1 − p at i; b and c come from p as stored (rounded to T).
template <typename T>
__device__ __forceinline__ void rt_store_route(T* p, unsigned char* b, T* c, long long i, typename TsAcc<T>::type prob) {
    typedef typename TsAcc<T>::type A;
    T pt = ts_from_acc<T>(prob);
    A pr = ts_acc(pt);
    bool boundary = pr > (A) 0.5;
    p[i] = pt;
    b[i] = boundary ? 1 : 0;
    c[i] = ts_from_acc<T>(boundary ? pr : (A) 1 - pr);
}

// P = clamp(p, 1e−4, 1 − 1e−4).
template <typename A> __device__ __forceinline__ A rt_smoothing(A p) { return rt_clamp(p, (A) RT_P_MIN, (A) 1 - (A) RT_P_MIN); }

// One EMA step P·ẑ + (1 − P)·prev, the same expression in the parallel and the step form.
template <typename A> __device__ __forceinline__ A rt_ema(A prob, A zh, A prev) { return fma(prob, zh, ((A) 1 - prob) * prev); }

__device__ __forceinline__ unsigned char rt_flags(const unsigned char* flags, long long i, long long t) {
    return flags != nullptr ? flags[i] : (unsigned char) (t == 0 ? (RT_VALID | RT_START) : RT_VALID);
}

// ------------------------------------------------------------------ route

// p, b, c [B, L] from q, k [B, L, D]; flags [B, L] (VALID | START) or null for plain rows.
template <typename T>
__device__ void route_forward_impl(const T* q, const T* k, const unsigned char* flags, T* p, unsigned char* b, T* c,
                                   long long rows, long long len, long long d) {
    typedef typename TsAcc<T>::type A;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % RtVec<T>::N == 0 && rt_aligned16(q) && rt_aligned16(k);
    for (long long i = warp; i < rows * len; i += warps) {
        long long t = i % len;
        unsigned char f = rt_flags(flags, i, t);
        A prob;
        if (!(f & RT_VALID)) prob = 0;
        else if (f & RT_START) prob = 1;
        else {
            A s[3];
            rt_dot3<T>(q + (i - 1) * d, k + i * d, d, vec, lane, s);
            prob = rt_boundary_prob(rt_cosine(s));
        }
        if (lane == 0) {
            if (!(f & RT_VALID)) { p[i] = ts_from_acc<T>((A) 0); b[i] = 0; c[i] = ts_from_acc<T>((A) 1); }
            else rt_store_route<T>(p, b, c, i, prob);
        }
    }
}

// dq, dk [B, L, D] from dp [B, L]: position t writes dq_{t−1} and dk_t (zeros where it contributes nothing), and
// the last position of a row also dq_t = 0, so every element is written once.
template <typename T>
__device__ void route_backward_impl(const T* q, const T* k, const unsigned char* flags, const T* dp, T* dq, T* dk,
                                    long long rows, long long len, long long d) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % N == 0 && rt_aligned16(q) && rt_aligned16(k) && rt_aligned16(dq) && rt_aligned16(dk);
    long long groups = rt_groups<T>(d);
    A zero[N];
#pragma unroll
    for (int j = 0; j < N; ++j) zero[j] = 0;
    for (long long i = warp; i < rows * len; i += warps) {
        long long t = i % len;
        unsigned char f = rt_flags(flags, i, t);
        if (t == len - 1) for (long long g = lane; g < groups; g += 32) rt_store<T, A>(dq + i * d, g * N, d, vec, zero);
        bool active = t > 0 && (f & RT_VALID) && !(f & RT_START);
        A ga = 0, gbq = 0, gbk = 0;
        const T* qr = q + (i - 1) * d;
        const T* kr = k + i * d;
        if (active) {
            A s[3];
            rt_dot3<T>(qr, kr, d, vec, lane, s);
            A cos = rt_cosine(s), u = ((A) 1 - cos) / (A) 2;
            if (u < (A) 0 || u > (A) 1) active = false;
            else {
                A g = -ts_acc(dp[i]) / (A) 2, eps = (A) RT_NORM_EPS;
                A lq = sqrt(s[1]), lk = sqrt(s[2]);
                A nq = lq > eps ? lq : eps, nk = lk > eps ? lk : eps;
                ga = g / (nq * nk);
                gbq = lq > eps ? g * cos / (nq * nq) : (A) 0;
                gbk = lk > eps ? g * cos / (nk * nk) : (A) 0;
            }
        }
        for (long long g = lane; g < groups; g += 32) {
            if (!active) {
                if (t > 0) rt_store<T, A>(dq + (i - 1) * d, g * N, d, vec, zero);
                rt_store<T, A>(dk + i * d, g * N, d, vec, zero);
                continue;
            }
            A a[N], b[N], oq[N], ok[N];
            rt_load<T, A>(qr, g * N, d, vec, a);
            rt_load<T, A>(kr, g * N, d, vec, b);
#pragma unroll
            for (int j = 0; j < N; ++j) {
                oq[j] = fma(b[j], ga, -gbq * a[j]);
                ok[j] = fma(a[j], ga, -gbk * b[j]);
            }
            rt_store<T, A>(dq + (i - 1) * d, g * N, d, vec, oq);
            rt_store<T, A>(dk + i * d, g * N, d, vec, ok);
        }
    }
}

TS_FLOAT_ENTRIES(route_forward,
                 (const void* q, const void* k, const unsigned char* flags, void* p, unsigned char* b, void* c, long long rows,
                  long long len, long long d),
                 ((const T*) q, (const T*) k, flags, (T*) p, b, (T*) c, rows, len, d))
TS_FLOAT_ENTRIES(route_backward,
                 (const void* q, const void* k, const unsigned char* flags, const void* dp, void* dq, void* dk, long long rows,
                  long long len, long long d),
                 ((const T*) q, (const T*) k, flags, (const T*) dp, (T*) dq, (T*) dk, rows, len, d))

// ------------------------------------------------------------------ the scan over boundary flags

// Per position: count of boundaries, last boundary position, last reset position (inclusive prefix: sum, max, max).
struct RtScan {
    int cnt, lastB, lastR;
};
__device__ __forceinline__ RtScan rt_combine(RtScan a, RtScan b) {
    RtScan r;
    r.cnt = a.cnt + b.cnt;
    r.lastB = a.lastB > b.lastB ? a.lastB : b.lastB;
    r.lastR = a.lastR > b.lastR ? a.lastR : b.lastR;
    return r;
}

#define RT_SCAN_THREADS 256
#define RT_SCAN_ITEMS 8

// One CTA (RT_SCAN_THREADS threads) per row of b [B, L]. Writes, each optional (null to skip):
//   index [B, L] int64  cumsum(b)
//   of    [B, L] int32  the chunk position t shows, −1 before the first chunk of t's sequence
//   pos   [B, cap] int32 the position of each chunk k, with RT_FIRST_BIT set where k is the first chunk of its
//                        sequence (k = 0, or a reset lies after the previous chunk); only k < min(count, cap)
//   counts [B] int64    the number of chunks of the row
// Resets: t = 0 and every START flag (flags null: t = 0 only).
extern "C" __global__ void __launch_bounds__(RT_SCAN_THREADS)
chunk_scan(const unsigned char* b, const unsigned char* flags, long long len, long long cap, long long* index, int* of,
           int* pos, long long* counts) {
    __shared__ RtScan warpTotals[RT_SCAN_THREADS / 32];
    __shared__ RtScan carryShared;
    long long r = blockIdx.x;
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const unsigned char* br = b + r * len;
    const unsigned char* fr = flags != nullptr ? flags + r * len : nullptr;
    RtScan carry = {0, -1, -1};
    for (long long tile = 0; tile < len; tile += (long long) RT_SCAN_THREADS * RT_SCAN_ITEMS) {
        long long t0 = tile + (long long) tid * RT_SCAN_ITEMS;
        unsigned char bits[RT_SCAN_ITEMS], resets[RT_SCAN_ITEMS];
        RtScan agg = {0, -1, -1};
#pragma unroll
        for (int j = 0; j < RT_SCAN_ITEMS; ++j) {
            long long t = t0 + j;
            bool in = t < len;
            bits[j] = in && br[t] != 0;
            resets[j] = in && (t == 0 || (fr != nullptr && (fr[t] & RT_START)));
            RtScan e = {bits[j], bits[j] ? (int) t : -1, resets[j] ? (int) t : -1};
            agg = rt_combine(agg, e);
        }
        // Exclusive prefix of the thread aggregates within the warp.
        RtScan incl = agg;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            RtScan up;
            up.cnt = __shfl_up_sync(0xffffffffu, incl.cnt, o);
            up.lastB = __shfl_up_sync(0xffffffffu, incl.lastB, o);
            up.lastR = __shfl_up_sync(0xffffffffu, incl.lastR, o);
            if (lane >= o) incl = rt_combine(up, incl);
        }
        RtScan excl;
        excl.cnt = __shfl_up_sync(0xffffffffu, incl.cnt, 1);
        excl.lastB = __shfl_up_sync(0xffffffffu, incl.lastB, 1);
        excl.lastR = __shfl_up_sync(0xffffffffu, incl.lastR, 1);
        if (lane == 0) excl = RtScan{0, -1, -1};
        if (lane == 31) warpTotals[warp] = incl;
        __syncthreads();
        RtScan prefix = carry;
        for (int w = 0; w < warp; ++w) prefix = rt_combine(prefix, warpTotals[w]);
        prefix = rt_combine(prefix, excl);
        if (tid == RT_SCAN_THREADS - 1) carryShared = rt_combine(prefix, agg);
        // Walk the thread's positions with the running prefix.
        RtScan run = prefix;
#pragma unroll
        for (int j = 0; j < RT_SCAN_ITEMS; ++j) {
            long long t = t0 + j;
            if (t >= len) break;
            int prevB = run.lastB;
            RtScan e = {bits[j], bits[j] ? (int) t : -1, resets[j] ? (int) t : -1};
            run = rt_combine(run, e);
            if (index != nullptr) index[r * len + t] = run.cnt;
            if (of != nullptr) of[r * len + t] = run.lastB >= run.lastR ? run.cnt - 1 : -1;
            if (pos != nullptr && bits[j] && run.cnt - 1 < cap) {
                bool first = run.cnt == 1 || prevB < run.lastR;
                pos[r * cap + run.cnt - 1] = (int) ((unsigned) t | (first ? RT_FIRST_BIT : 0u));
            }
        }
        __syncthreads();
        carry = carryShared;
        __syncthreads();
    }
    if (tid == 0 && counts != nullptr) counts[r] = carry.cnt;
}

// ------------------------------------------------------------------ chunk

// Copies rows of rowBytes bytes, one warp per destination row n in [0, nRows). Source row:
//   mode 0 (chunk forward, n = r·M + j): j < counts[r] ? r·L + pos[r·cap + j] : none
//   mode 1 (chunk backward, n = r·L + t): b[n] ? r·M + index[n] − 1 : none
// A destination without a source is zero-filled.
template <typename W>
__device__ __forceinline__ void rt_copy_row(const unsigned char* src, unsigned char* dst, long long words, int lane, bool zero) {
    const W* s = reinterpret_cast<const W*>(src);
    W* o = reinterpret_cast<W*>(dst);
    W z;
    memset(&z, 0, sizeof(W));
    for (long long w = lane; w < words; w += 32) o[w] = zero ? z : s[w];
}

extern "C" __global__ void chunk_copy_rows(const unsigned char* src, unsigned char* dst, long long nRows, long long rowBytes, int mode,
                                           long long len, long long m, long long cap, const int* pos, const long long* counts,
                                           const unsigned char* b, const long long* index) {
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    uintptr_t align = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) | (uintptr_t) rowBytes;
    for (long long n = warp; n < nRows; n += warps) {
        long long s = -1;
        if (mode == 0) {
            long long r = n / m, j = n - r * m;
            if (j < counts[r]) s = r * len + (pos[r * cap + j] & RT_POS_MASK);
        } else {
            long long r = n / len;
            if (b[n] != 0) s = r * m + index[n] - 1;
        }
        const unsigned char* from = src + (s < 0 ? 0 : s) * rowBytes;
        unsigned char* to = dst + n * rowBytes;
        bool zero = s < 0;
        if ((align & 15) == 0) rt_copy_row<uint4>(from, to, rowBytes / 16, lane, zero);
        else if ((align & 7) == 0) rt_copy_row<unsigned long long>(from, to, rowBytes / 8, lane, zero);
        else if ((align & 3) == 0) rt_copy_row<unsigned int>(from, to, rowBytes / 4, lane, zero);
        else if ((align & 1) == 0) rt_copy_row<unsigned short>(from, to, rowBytes / 2, lane, zero);
        else rt_copy_row<unsigned char>(from, to, rowBytes, lane, zero);
    }
}

// Chunk metadata. cu null (padded rows, S = B): lengths = counts, offsets = prefix sums, mask[r, j] = j < counts[r].
// cu [S+1] (packed, B = 1): lengths[s] = index[cu[s+1]−1] − index[cu[s]−1], offsets[s] = index[cu[s]−1] (index[−1]
// = 0), mask all true. Lengths, offsets int64; mask [B, M] bytes.
extern "C" __global__ void chunk_meta(const long long* index, const long long* counts, const long long* cu, long long seqs,
                                      long long rows, long long m, long long* lengths, long long* offsets, unsigned char* mask) {
    long long stride = (long long) gridDim.x * blockDim.x, tid = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    for (long long i = tid; i < rows * m; i += stride) {
        long long r = i / m;
        mask[i] = cu != nullptr || i - r * m < counts[r] ? 1 : 0;
    }
    if (cu != nullptr) {
        for (long long s = tid; s < seqs; s += stride) {
            long long lo = cu[s] == 0 ? 0 : index[cu[s] - 1], hi = cu[s + 1] == 0 ? 0 : index[cu[s + 1] - 1];
            lengths[s] = hi - lo;
            offsets[s] = lo;
            if (s == seqs - 1) offsets[seqs] = hi;
        }
    } else {
        for (long long s = tid; s < seqs; s += stride) lengths[s] = counts[s];
        if (tid == 0) {
            long long run = 0;
            for (long long s = 0; s < seqs; ++s) {
                offsets[s] = run;
                run += counts[s];
            }
            offsets[seqs] = run;
        }
    }
}

// ------------------------------------------------------------------ dechunk forward

// Phase 1: grid (⌈D/blockDim⌉, segments, B); thread = channel. Runs the EMA over the chunks [s·S, min((s+1)·S, count))
// from 0 into local [B, M, D] (accumulator type) and Π a (a = 1 − P, 0 at a first chunk) into cumA [B, M].
template <typename T>
__device__ void dechunk_local_impl(const T* zhat, const T* p, const int* pos, const long long* counts, long long len,
                                   long long m, long long d, long long seg, typename TsAcc<T>::type* local,
                                   typename TsAcc<T>::type* cumA) {
    typedef typename TsAcc<T>::type A;
    long long r = blockIdx.z, c = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    long long k0 = (long long) blockIdx.y * seg, k1 = k0 + seg, count = counts[r];
    if (k1 > count) k1 = count;
    bool writer = blockIdx.x == 0 && threadIdx.x == 0;
    if (c >= d && !writer) return;
    A z = 0, cum = 1;
    for (long long k = k0; k < k1; ++k) {
        unsigned info = (unsigned) pos[r * m + k];
        bool first = (info & RT_FIRST_BIT) != 0;
        A prob = rt_smoothing(ts_acc(p[r * len + (info & RT_POS_MASK)]));
        cum = first ? (A) 0 : ((A) 1 - prob) * cum;
        if (c < d) {
            z = rt_ema(prob, (A) ts_acc(zhat[(r * m + k) * d + c]), first ? (A) 0 : z);
            local[(r * m + k) * d + c] = z;
        }
        if (writer) cumA[r * m + k] = cum;
    }
}

// Phase 2: grid (⌈D/blockDim⌉, B); thread = channel. carry[r, s, c] = z̄ just before segment s.
template <typename A>
__device__ void dechunk_carry_impl(const A* local, const A* cumA, const long long* counts, long long m, long long d, long long seg,
                                   long long segments, A* carry) {
    long long r = blockIdx.y, c = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d) return;
    long long count = counts[r];
    A z = 0;
    for (long long s = 0; s < segments; ++s) {
        carry[(r * segments + s) * d + c] = z;
        long long last = (s + 1) * seg;
        if (last > count) last = count;
        last -= 1;
        if (last < s * seg) continue; // empty segment: nothing after it is read
        z = fma(cumA[r * m + last], z, local[(r * m + last) * d + c]);
    }
}

// Phase 3: one warp per position i = r·L + t: out_i = z̄_k = local_k + cumA_k · carry[seg(k)] (0 when k = of_i < 0);
// at the boundary position of chunk k also z̄ [B, M, D] (when not null).
template <typename T>
__device__ void dechunk_upsample_impl(const typename TsAcc<T>::type* local, const typename TsAcc<T>::type* cumA,
                                      const typename TsAcc<T>::type* carry, const int* of, const int* pos, long long rows, long long len,
                                      long long m, long long d, long long seg, long long segments, T* out, T* zbar) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % N == 0 && rt_aligned16(local) && rt_aligned16(carry) && rt_aligned16(out) && (zbar == nullptr || rt_aligned16(zbar));
    long long groups = rt_groups<T>(d);
    for (long long i = warp; i < rows * len; i += warps) {
        long long r = i / len, t = i - r * len;
        int k = of[i];
        T* o = out + i * d;
        if (k < 0) {
            A zero[N];
#pragma unroll
            for (int j = 0; j < N; ++j) zero[j] = 0;
            for (long long g = lane; g < groups; g += 32) rt_store<T, A>(o, g * N, d, vec, zero);
            continue;
        }
        long long s = k / seg;
        A a = cumA[r * m + k];
        const A* lr = local + (r * m + k) * d;
        const A* cr = carry + (r * segments + s) * d;
        bool save = zbar != nullptr && (long long) (pos[r * m + k] & RT_POS_MASK) == t;
        T* zr = zbar != nullptr ? zbar + (r * m + k) * d : nullptr;
        for (long long g = lane; g < groups; g += 32) {
            A lv[N], cv[N];
            rt_load_acc<A, N>(lr, g * N, d, vec, lv);
            rt_load_acc<A, N>(cr, g * N, d, vec, cv);
#pragma unroll
            for (int j = 0; j < N; ++j) lv[j] = fma(a, cv[j], lv[j]);
            rt_store<T, A>(o, g * N, d, vec, lv);
            if (save) rt_store<T, A>(zr, g * N, d, vec, lv);
        }
    }
}

TS_FLOAT_ENTRIES(dechunk_local,
                 (const void* zhat, const void* p, const int* pos, const long long* counts, long long len, long long m, long long d,
                  long long seg, void* local, void* cumA),
                 ((const T*) zhat, (const T*) p, pos, counts, len, m, d, seg, (typename TsAcc<T>::type*) local,
                  (typename TsAcc<T>::type*) cumA))
extern "C" __global__ void dechunk_carry_acc32(const float* local, const float* cumA, const long long* counts, long long m, long long d,
                                               long long seg, long long segments, float* carry) {
    dechunk_carry_impl<float>(local, cumA, counts, m, d, seg, segments, carry);
}
extern "C" __global__ void dechunk_carry_acc64(const double* local, const double* cumA, const long long* counts, long long m, long long d,
                                               long long seg, long long segments, double* carry) {
    dechunk_carry_impl<double>(local, cumA, counts, m, d, seg, segments, carry);
}
TS_FLOAT_ENTRIES(dechunk_upsample,
                 (const void* local, const void* cumA, const void* carry, const int* of, const int* pos, long long rows, long long len,
                  long long m, long long d, long long seg, long long segments, void* out, void* zbar),
                 ((const typename TsAcc<T>::type*) local, (const typename TsAcc<T>::type*) cumA,
                  (const typename TsAcc<T>::type*) carry, of, pos, rows, len, m, d, seg, segments, (T*) out, (T*) zbar))

// ------------------------------------------------------------------ dechunk backward

// One warp per chunk (r, k < count): over the positions t that show chunk k (from its boundary while of_t = k):
// dc_t = ⟨dout_t, z̄_k⟩ and G_k = Σ dout_t (accumulator type, [B, M, D]). dc at other positions stays 0.
template <typename T>
__device__ void dechunk_bwd_gather_impl(const T* dout, const T* zbar, const int* of, const int* pos, const long long* counts,
                                        long long rows, long long len, long long m, long long d, typename TsAcc<T>::type* gsum, T* dc) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % N == 0 && rt_aligned16(dout) && rt_aligned16(zbar) && rt_aligned16(gsum);
    long long groups = rt_groups<T>(d);
    for (long long n = warp; n < rows * m; n += warps) {
        long long r = n / m, k = n - r * m;
        if (k >= counts[r]) continue;
        const T* zr = zbar + n * d;
        A* gr = gsum + n * d;
        long long t = pos[n] & RT_POS_MASK;
        for (bool firstPos = true; t < len && of[r * len + t] == k; ++t, firstPos = false) {
            const T* dr = dout + (r * len + t) * d;
            A dot = 0;
            for (long long g = lane; g < groups; g += 32) {
                A dv[N], zv[N], acc[N];
                rt_load<T, A>(dr, g * N, d, vec, dv);
                rt_load<T, A>(zr, g * N, d, vec, zv);
                if (firstPos) {
#pragma unroll
                    for (int j = 0; j < N; ++j) acc[j] = 0;
                } else {
                    rt_load_acc<A, N>(gr, g * N, d, vec, acc);
                }
#pragma unroll
                for (int j = 0; j < N; ++j) {
                    dot = fma(dv[j], zv[j], dot);
                    acc[j] += dv[j];
                }
                rt_store_acc<A, N>(gr, g * N, d, vec, acc);
            }
            dot = ts_warp_sum(dot);
            if (lane == 0) dc[r * len + t] = ts_from_acc<T>(dot);
        }
    }
}

// a_k = 1 − P_k, 0 where k is the first chunk of its sequence (the reverse scan does not carry across it).
template <typename T>
__device__ __forceinline__ typename TsAcc<T>::type rt_link(const T* p, const int* pos, long long r, long long len, long long m, long long k) {
    typedef typename TsAcc<T>::type A;
    unsigned info = (unsigned) pos[r * m + k];
    if (info & RT_FIRST_BIT) return 0;
    return (A) 1 - rt_smoothing(ts_acc(p[r * len + (info & RT_POS_MASK)]));
}

// Reverse phase 1: grid (⌈D/blockDim⌉, segments, B). In place on G: local_k = G_k + a_{k+1}·local_{k+1} within the
// segment [s·S, e]; cumR_k = Π_{j=k+1}^{e+1} a_j (a_{count} = 0), so dz̄_k = local_k + cumR_k · dz̄_{e+1}.
template <typename T>
__device__ void dechunk_bwd_local_impl(const T* p, const int* pos, const long long* counts, long long len, long long m, long long d,
                                       long long seg, typename TsAcc<T>::type* gsum, typename TsAcc<T>::type* cumR) {
    typedef typename TsAcc<T>::type A;
    long long r = blockIdx.z, c = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    long long k0 = (long long) blockIdx.y * seg, count = counts[r], e = k0 + seg - 1;
    if (e > count - 1) e = count - 1;
    bool writer = blockIdx.x == 0 && threadIdx.x == 0;
    if (c >= d && !writer) return;
    if (e < k0) return;
    A cum = e + 1 < count ? rt_link<T>(p, pos, r, len, m, e + 1) : (A) 0, z = 0;
    for (long long k = e; k >= k0; --k) {
        if (k < e) {
            A a = rt_link<T>(p, pos, r, len, m, k + 1);
            cum = a * cum;
            if (c < d) z = fma(a, z, gsum[(r * m + k) * d + c]);
        } else if (c < d) {
            z = gsum[(r * m + k) * d + c];
        }
        if (c < d) gsum[(r * m + k) * d + c] = z;
        if (writer) cumR[r * m + k] = cum;
    }
}

// Reverse phase 2: grid (⌈D/blockDim⌉, B). carry[r, s, c] = dz̄ of the first chunk after segment s (0 past the end).
template <typename A>
__device__ void dechunk_bwd_carry_impl(const A* local, const A* cumR, const long long* counts, long long m, long long d, long long seg,
                                       long long segments, A* carry) {
    long long r = blockIdx.y, c = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= d) return;
    long long count = counts[r];
    A z = 0;
    for (long long s = segments - 1; s >= 0; --s) {
        carry[(r * segments + s) * d + c] = z;
        long long k0 = s * seg;
        if (k0 >= count) continue;
        z = fma(cumR[r * m + k0], z, local[(r * m + k0) * d + c]);
    }
}

// Reverse phase 3: one warp per chunk row (r, k < M): dz̄_k = local_k + cumR_k · carry; dẑ_k = P_k·dz̄_k (zero rows
// past the row's count); dP_k = ⟨dz̄_k, ẑ_k − z̄_{k−1}⟩ (z̄_{k−1} = 0 at a first chunk) reaches dp at the boundary
// where the clamp is inactive (dp zero elsewhere, from the caller).
template <typename T>
__device__ void dechunk_bwd_final_impl(const typename TsAcc<T>::type* local, const typename TsAcc<T>::type* cumR,
                                       const typename TsAcc<T>::type* carry, const T* zhat, const T* zbar, const T* p, const int* pos,
                                       const long long* counts, long long rows, long long len, long long m, long long d, long long seg,
                                       long long segments, T* dzhat, T* dp) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % N == 0 && rt_aligned16(local) && rt_aligned16(carry) && rt_aligned16(zhat) && rt_aligned16(zbar)
               && rt_aligned16(dzhat);
    long long groups = rt_groups<T>(d);
    for (long long n = warp; n < rows * m; n += warps) {
        long long r = n / m, k = n - r * m;
        T* dr = dzhat + n * d;
        if (k >= counts[r]) {
            A zero[N];
#pragma unroll
            for (int j = 0; j < N; ++j) zero[j] = 0;
            for (long long g = lane; g < groups; g += 32) rt_store<T, A>(dr, g * N, d, vec, zero);
            continue;
        }
        unsigned info = (unsigned) pos[n];
        bool first = (info & RT_FIRST_BIT) != 0;
        long long t = info & RT_POS_MASK;
        A pk = ts_acc(p[r * len + t]), prob = rt_smoothing(pk), cr = cumR[n];
        const A* lr = local + n * d;
        const A* carr = carry + (r * segments + k / seg) * d;
        const T* zh = zhat + n * d;
        const T* zp = zbar + (n - 1) * d;
        A dot = 0;
        for (long long g = lane; g < groups; g += 32) {
            A lv[N], cv[N], zv[N], pv[N], out[N];
            rt_load_acc<A, N>(lr, g * N, d, vec, lv);
            rt_load_acc<A, N>(carr, g * N, d, vec, cv);
            rt_load<T, A>(zh, g * N, d, vec, zv);
            if (first) {
#pragma unroll
                for (int j = 0; j < N; ++j) pv[j] = 0;
            } else {
                rt_load<T, A>(zp, g * N, d, vec, pv);
            }
#pragma unroll
            for (int j = 0; j < N; ++j) {
                A dz = fma(cr, cv[j], lv[j]);
                out[j] = prob * dz;
                dot = fma(dz, zv[j] - pv[j], dot);
            }
            rt_store<T, A>(dr, g * N, d, vec, out);
        }
        dot = ts_warp_sum(dot);
        if (lane == 0 && pk >= (A) RT_P_MIN && pk <= (A) 1 - (A) RT_P_MIN) dp[r * len + t] = ts_from_acc<T>(dot);
    }
}

TS_FLOAT_ENTRIES(dechunk_bwd_gather,
                 (const void* dout, const void* zbar, const int* of, const int* pos, const long long* counts, long long rows, long long len,
                  long long m, long long d, void* gsum, void* dc),
                 ((const T*) dout, (const T*) zbar, of, pos, counts, rows, len, m, d, (typename TsAcc<T>::type*) gsum, (T*) dc))
TS_FLOAT_ENTRIES(dechunk_bwd_local,
                 (const void* p, const int* pos, const long long* counts, long long len, long long m, long long d, long long seg,
                  void* gsum, void* cumR),
                 ((const T*) p, pos, counts, len, m, d, seg, (typename TsAcc<T>::type*) gsum, (typename TsAcc<T>::type*) cumR))
extern "C" __global__ void dechunk_bwd_carry_acc32(const float* local, const float* cumR, const long long* counts, long long m, long long d,
                                                   long long seg, long long segments, float* carry) {
    dechunk_bwd_carry_impl<float>(local, cumR, counts, m, d, seg, segments, carry);
}
extern "C" __global__ void dechunk_bwd_carry_acc64(const double* local, const double* cumR, const long long* counts, long long m, long long d,
                                                   long long seg, long long segments, double* carry) {
    dechunk_bwd_carry_impl<double>(local, cumR, counts, m, d, seg, segments, carry);
}
TS_FLOAT_ENTRIES(dechunk_bwd_final,
                 (const void* local, const void* cumR, const void* carry, const void* zhat, const void* zbar, const void* p, const int* pos,
                  const long long* counts, long long rows, long long len, long long m, long long d, long long seg, long long segments,
                  void* dzhat, void* dp),
                 ((const typename TsAcc<T>::type*) local, (const typename TsAcc<T>::type*) cumR,
                  (const typename TsAcc<T>::type*) carry, (const T*) zhat, (const T*) zbar, (const T*) p, pos, counts, rows, len, m, d,
                  seg, segments, (T*) dzhat, (T*) dp))

// ------------------------------------------------------------------ step (decoding, one new position per row)

// One warp per row r: p = seen[r] ? clamp((1 − cos(q_prev[r], k[r]))/2) : 1 (the same code as route_forward, so
// the values are bit for bit those of the parallel form); writes p, b, c [B] and pState [B] (the state's copy for
// the following dechunk step), then q_prev[r] = q[r] and seen[r] = 1.
template <typename T>
__device__ void route_step_impl(const T* q, const T* k, T* qPrev, unsigned char* seen, T* p, unsigned char* b, T* c, T* pState,
                                long long rows, long long d) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % N == 0 && rt_aligned16(q) && rt_aligned16(k) && rt_aligned16(qPrev);
    long long groups = rt_groups<T>(d);
    for (long long r = warp; r < rows; r += warps) {
        A prob = 1;
        if (seen[r]) {
            A s[3];
            rt_dot3<T>(qPrev + r * d, k + r * d, d, vec, lane, s);
            prob = rt_boundary_prob(rt_cosine(s));
        }
        __syncwarp();
        for (long long g = lane; g < groups; g += 32) {
            if (vec) {
                *reinterpret_cast<uint4*>(qPrev + r * d + g * N) = *reinterpret_cast<const uint4*>(q + r * d + g * N);
            } else {
                for (int j = 0; j < N; ++j) if (g * N + j < d) qPrev[r * d + g * N + j] = q[r * d + g * N + j];
            }
        }
        if (lane == 0) {
            rt_store_route<T>(p, b, c, r, prob);
            pState[r] = p[r];
            seen[r] = 1;
        }
    }
}

// One warp per row r: when slot[r] = j >= 0 (row r had a boundary; ẑ row j), z̄_r = P·ẑ_j + (1 − P)·z̄_r with
// P = clamp(pState[r]); then out[r] = z̄_r. z̄ is kept in the accumulator type, as in the parallel form.
template <typename T>
__device__ void dechunk_step_impl(const T* zhat, const int* slot, const T* pState, typename TsAcc<T>::type* zbar, T* out, long long rows,
                                  long long d) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = RtVec<T>::N;
    int lane = threadIdx.x & 31;
    long long warp = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5, warps = ((long long) gridDim.x * blockDim.x) >> 5;
    bool vec = d % N == 0 && rt_aligned16(zhat) && rt_aligned16(zbar) && rt_aligned16(out);
    long long groups = rt_groups<T>(d);
    for (long long r = warp; r < rows; r += warps) {
        int j = slot[r];
        A prob = j >= 0 ? rt_smoothing(ts_acc(pState[r])) : (A) 0;
        A* zr = zbar + r * d;
        for (long long g = lane; g < groups; g += 32) {
            A zv[N];
            rt_load_acc<A, N>(zr, g * N, d, vec, zv);
            if (j >= 0) {
                A hv[N];
                rt_load<T, A>(zhat + (long long) j * d, g * N, d, vec, hv);
#pragma unroll
                for (int e = 0; e < N; ++e) zv[e] = rt_ema(prob, hv[e], zv[e]);
                rt_store_acc<A, N>(zr, g * N, d, vec, zv);
            }
            rt_store<T, A>(out + r * d, g * N, d, vec, zv);
        }
    }
}

TS_FLOAT_ENTRIES(route_step,
                 (const void* q, const void* k, void* qPrev, unsigned char* seen, void* p, unsigned char* b, void* c, void* pState,
                  long long rows, long long d),
                 ((const T*) q, (const T*) k, (T*) qPrev, seen, (T*) p, b, (T*) c, (T*) pState, rows, d))
TS_FLOAT_ENTRIES(dechunk_step,
                 (const void* zhat, const int* slot, const void* pState, void* zbar, void* out, long long rows, long long d),
                 ((const T*) zhat, slot, (const T*) pState, (typename TsAcc<T>::type*) zbar, (T*) out, rows, d))
