// Row-wise kernels over contiguous [rows, n] operands: reductions (sum, max, min, argmax, argmin, logsumexp),
// softmax / log-softmax forward and backward, LayerNorm / RMSNorm forward and backward.
// Launched by dev.tessera.runtime.cuda.CudaRows; the semantics follow the CPU kernels (RowReduce, SoftmaxKernel,
// NormKernels) — NaN propagation, first index on ties, -inf rows — see the comments at each kernel.
//
// A row is processed by a "group": one warp (warpMode != 0: blockDim.x / 32 rows per block) for short rows, or the
// whole block (one row, or one chunk of a row, per block) for long ones. Rows are read with 16-byte vector loads over
// their aligned middle and scalar loads at the ends, so any n and any storage offset work.
#include "tessera.cuh"

// ------------------------------------------------------------------------------------------------ element types

// BOOL storage: one byte, any non-zero byte is true (reads as 1).
struct TsBool8 { unsigned char v; };

// ts_nat (tessera.cuh) for the byte-wide types too.
__device__ __forceinline__ long long ts_nat(unsigned char v) { return v; }
__device__ __forceinline__ long long ts_nat(TsBool8 v) { return v.v != 0 ? 1 : 0; }

// The type comparisons and exponentials run in: float for the narrow floats, double for F64 and the integers
// (the CPU compares integers as doubles, so ties and rounding agree).
template <typename T> struct TsCmp { typedef double type; };
template <> struct TsCmp<float> { typedef float type; };
template <> struct TsCmp<__nv_bfloat16> { typedef float type; };
template <> struct TsCmp<__half> { typedef float type; };

template <typename T> struct TsIsInt { static constexpr bool value = true; };
template <> struct TsIsInt<float> { static constexpr bool value = false; };
template <> struct TsIsInt<double> { static constexpr bool value = false; };
template <> struct TsIsInt<__nv_bfloat16> { static constexpr bool value = false; };
template <> struct TsIsInt<__half> { static constexpr bool value = false; };

template <typename T> struct TsCode;
template <> struct TsCode<float> { static constexpr int value = TS_F32; };
template <> struct TsCode<double> { static constexpr int value = TS_F64; };
template <> struct TsCode<__nv_bfloat16> { static constexpr int value = TS_BF16; };
template <> struct TsCode<__half> { static constexpr int value = TS_F16; };

template <typename A> __device__ __forceinline__ A ts_inf();
template <> __device__ __forceinline__ float ts_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double ts_inf<double>() { return __longlong_as_double(0x7ff0000000000000LL); }
template <typename A> __device__ __forceinline__ A ts_nan();
template <> __device__ __forceinline__ float ts_nan<float>() { return __int_as_float(0x7fffffff); }
template <> __device__ __forceinline__ double ts_nan<double>() { return __longlong_as_double(0x7fffffffffffffffLL); }

// Accurate exponential and logarithm (no fast-math intrinsics).
__device__ __forceinline__ float ts_exp(float v) { return expf(v); }
__device__ __forceinline__ double ts_exp(double v) { return exp(v); }
__device__ __forceinline__ float ts_log(float v) { return logf(v); }
__device__ __forceinline__ double ts_log(double v) { return log(v); }

// dtype codes that are integral on the Java side (DType.isIntegral): I32, I64, U8, BOOL.
__device__ __forceinline__ bool ts_integral(int code) { return code >= TS_I32; }

// ------------------------------------------------------------------------------------------------ row traversal

// Elements of p before the first 16-byte boundary (all of them when p is not even element-aligned).
template <typename T> __device__ __forceinline__ int ts_head(const void* p, int len) {
    uintptr_t a = (uintptr_t) p;
    if (a % sizeof(T) != 0) return len;
    int h = (int) (((16 - (a & 15)) & 15) / sizeof(T));
    return h < len ? h : len;
}

template <typename T, typename F> __device__ __forceinline__ void ts_vec_read(const uint4& raw, int idx, F& f) {
    constexpr int V = 16 / sizeof(T);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int j = 0; j < V; ++j) f(e[j], idx + j);
}

// Calls f(element, index) for the elements [0, len) of p that thread t of a group of nt threads owns; the index passed
// is base + i. Four vector loads are issued before they are used, so that each thread keeps several in flight.
template <typename T, typename F>
__device__ __forceinline__ void ts_row_read(const T* __restrict__ p, int len, int base, int t, int nt, F f) {
    constexpr int V = 16 / sizeof(T);
    int head = ts_head<T>(p, len);
    for (int i = t; i < head; i += nt) f(p[i], base + i);
    int nv = (len - head) / V;
    const uint4* __restrict__ q = reinterpret_cast<const uint4*>(p + head);
    int b = base + head, k = t;
    for (; k + 3 * nt < nv; k += 4 * nt) {
        uint4 r0 = q[k], r1 = q[k + nt], r2 = q[k + 2 * nt], r3 = q[k + 3 * nt];
        ts_vec_read<T>(r0, b + k * V, f);
        ts_vec_read<T>(r1, b + (k + nt) * V, f);
        ts_vec_read<T>(r2, b + (k + 2 * nt) * V, f);
        ts_vec_read<T>(r3, b + (k + 3 * nt) * V, f);
    }
    for (; k < nv; k += nt) ts_vec_read<T>(q[k], b + k * V, f);
    for (int i = head + nv * V + t; i < len; i += nt) f(p[i], base + i);
}

// Two rows read together (same length): f(a[i], b[i], i). Vector loads only when a and b share their alignment.
template <typename T, typename F>
__device__ __forceinline__ void ts_row_read2(const T* __restrict__ a, const T* __restrict__ b, int len, int t, int nt, F f) {
    constexpr int V = 16 / sizeof(T);
    bool vec = (((uintptr_t) a ^ (uintptr_t) b) & 15) == 0;
    int head = vec ? ts_head<T>(a, len) : len;
    for (int i = t; i < head; i += nt) f(a[i], b[i], i);
    int nv = (len - head) / V;
    const uint4* __restrict__ qa = reinterpret_cast<const uint4*>(a + head);
    const uint4* __restrict__ qb = reinterpret_cast<const uint4*>(b + head);
    int k = t;
    for (; k + nt < nv; k += 2 * nt) {
        uint4 a0 = qa[k], a1 = qa[k + nt], b0 = qb[k], b1 = qb[k + nt];
        const T* ea0 = reinterpret_cast<const T*>(&a0); const T* eb0 = reinterpret_cast<const T*>(&b0);
        const T* ea1 = reinterpret_cast<const T*>(&a1); const T* eb1 = reinterpret_cast<const T*>(&b1);
#pragma unroll
        for (int j = 0; j < V; ++j) f(ea0[j], eb0[j], head + k * V + j);
#pragma unroll
        for (int j = 0; j < V; ++j) f(ea1[j], eb1[j], head + (k + nt) * V + j);
    }
    for (; k < nv; k += nt) {
        uint4 a0 = qa[k], b0 = qb[k];
        const T* ea0 = reinterpret_cast<const T*>(&a0); const T* eb0 = reinterpret_cast<const T*>(&b0);
#pragma unroll
        for (int j = 0; j < V; ++j) f(ea0[j], eb0[j], head + k * V + j);
    }
    for (int i = head + nv * V + t; i < len; i += nt) f(a[i], b[i], i);
}

// o[i] = f(a[i], i). Vector loads and stores only when a and o share their alignment.
template <typename T, typename F>
__device__ __forceinline__ void ts_row_map(const T* __restrict__ a, T* __restrict__ o, int len, int t, int nt, F f) {
    constexpr int V = 16 / sizeof(T);
    bool vec = (((uintptr_t) a ^ (uintptr_t) o) & 15) == 0;
    int head = vec ? ts_head<T>(a, len) : len;
    for (int i = t; i < head; i += nt) o[i] = f(a[i], i);
    int nv = (len - head) / V;
    const uint4* __restrict__ qa = reinterpret_cast<const uint4*>(a + head);
    uint4* __restrict__ qo = reinterpret_cast<uint4*>(o + head);
    int k = t;
    for (; k + 3 * nt < nv; k += 4 * nt) {
        uint4 r[4] = {qa[k], qa[k + nt], qa[k + 2 * nt], qa[k + 3 * nt]};
#pragma unroll
        for (int u = 0; u < 4; ++u) {
            uint4 w;
            const T* e = reinterpret_cast<const T*>(&r[u]);
            T* ew = reinterpret_cast<T*>(&w);
#pragma unroll
            for (int j = 0; j < V; ++j) ew[j] = f(e[j], head + (k + u * nt) * V + j);
            qo[k + u * nt] = w;
        }
    }
    for (; k < nv; k += nt) {
        uint4 r0 = qa[k], w;
        const T* e = reinterpret_cast<const T*>(&r0);
        T* ew = reinterpret_cast<T*>(&w);
#pragma unroll
        for (int j = 0; j < V; ++j) ew[j] = f(e[j], head + k * V + j);
        qo[k] = w;
    }
    for (int i = head + nv * V + t; i < len; i += nt) o[i] = f(a[i], i);
}

// o[i] = f(a[i], b[i], i). Vector loads and stores only when all three share their alignment.
template <typename T, typename F>
__device__ __forceinline__ void ts_row_map2(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ o, int len, int t, int nt,
                                            F f) {
    constexpr int V = 16 / sizeof(T);
    bool vec = ((((uintptr_t) a ^ (uintptr_t) o) | ((uintptr_t) b ^ (uintptr_t) o)) & 15) == 0;
    int head = vec ? ts_head<T>(a, len) : len;
    for (int i = t; i < head; i += nt) o[i] = f(a[i], b[i], i);
    int nv = (len - head) / V;
    const uint4* __restrict__ qa = reinterpret_cast<const uint4*>(a + head);
    const uint4* __restrict__ qb = reinterpret_cast<const uint4*>(b + head);
    uint4* __restrict__ qo = reinterpret_cast<uint4*>(o + head);
    int k = t;
    for (; k + nt < nv; k += 2 * nt) {
        uint4 ra[2] = {qa[k], qa[k + nt]}, rb[2] = {qb[k], qb[k + nt]};
#pragma unroll
        for (int u = 0; u < 2; ++u) {
            uint4 w;
            const T* ea = reinterpret_cast<const T*>(&ra[u]);
            const T* eb = reinterpret_cast<const T*>(&rb[u]);
            T* ew = reinterpret_cast<T*>(&w);
#pragma unroll
            for (int j = 0; j < V; ++j) ew[j] = f(ea[j], eb[j], head + (k + u * nt) * V + j);
            qo[k + u * nt] = w;
        }
    }
    for (; k < nv; k += nt) {
        uint4 ra = qa[k], rb = qb[k], w;
        const T* ea = reinterpret_cast<const T*>(&ra);
        const T* eb = reinterpret_cast<const T*>(&rb);
        T* ew = reinterpret_cast<T*>(&w);
#pragma unroll
        for (int j = 0; j < V; ++j) ew[j] = f(ea[j], eb[j], head + k * V + j);
        qo[k] = w;
    }
    for (int i = head + nv * V + t; i < len; i += nt) o[i] = f(a[i], b[i], i);
}

// ------------------------------------------------------------------------------------------------ groups

// The group (warp or block) this thread works in: id (row, or row·splits + chunk), thread t of nt.
struct TsGroup { long long id; int t, nt; };

__device__ __forceinline__ TsGroup ts_group(int warpMode) {
    TsGroup g;
    if (warpMode) {
        g.t = threadIdx.x & 31;
        g.nt = 32;
        g.id = (long long) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    } else {
        g.t = threadIdx.x;
        g.nt = blockDim.x;
        g.id = blockIdx.x;
    }
    return g;
}

// Butterfly reduction over the warp: every lane ends with the same value (the combines are commutative).
template <class S> __device__ __forceinline__ S ts_warp_combine(S s) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s = S::combine(s, s.shfl(o));
    return s;
}

// Reduction over the group; every thread of it gets the result. In block mode all threads of the block must call it.
// The order of combination is fixed by the launch shape, so results are reproducible run to run.
template <class S> __device__ __forceinline__ S ts_group_combine(S s, int warpMode) {
    __shared__ S scratch[32];
    s = ts_warp_combine(s);
    if (warpMode) return s;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    __syncthreads(); // an earlier call may still be reading scratch
    if (lane == 0) scratch[warp] = s;
    __syncthreads();
    s = lane < warps ? scratch[lane] : S::identity();
    return ts_warp_combine(s);
}

// ------------------------------------------------------------------------------------------------ reduction states

// A partial result of one chunk of a row, written when a long row is split across blocks.
struct TsRowPart { double a, b; long long i; };

// SUM of floats: double. Integral outputs get Math.round, like the CPU.
struct TsSumF {
    double s;
    __device__ static TsSumF identity() { return {0.0}; }
    template <typename T> __device__ __forceinline__ void add(T v, int) { s += (double) ts_nat(v); }
    __device__ static TsSumF combine(TsSumF a, TsSumF b) { return {a.s + b.s}; }
    __device__ TsSumF shfl(int o) const { return {__shfl_xor_sync(0xffffffffu, s, o)}; }
    __device__ TsRowPart pack() const { return {s, 0.0, 0}; }
    __device__ static TsSumF unpack(const TsRowPart& p) { return {p.a}; }
    __device__ void store(void* out, int code, long long at) const {
        if (ts_integral(code)) ts_store<long long>(out, code, at, (long long) floor(s + 0.5));
        else ts_store<double>(out, code, at, s);
    }
};

// SUM of integers: a wrapping 64-bit sum, converted through double like the CPU's Math.round((double) sum).
struct TsSumI {
    long long s;
    __device__ static TsSumI identity() { return {0}; }
    template <typename T> __device__ __forceinline__ void add(T v, int) { s += (long long) ts_nat(v); }
    __device__ static TsSumI combine(TsSumI a, TsSumI b) {
        return {(long long) ((unsigned long long) a.s + (unsigned long long) b.s)};
    }
    __device__ TsSumI shfl(int o) const { return {__shfl_xor_sync(0xffffffffu, s, o)}; }
    __device__ TsRowPart pack() const { return {0.0, 0.0, s}; }
    __device__ static TsSumI unpack(const TsRowPart& p) { return {p.i}; }
    __device__ void store(void* out, int code, long long at) const {
        double d = (double) s;
        if (ts_integral(code)) ts_store<long long>(out, code, at, (long long) d);
        else ts_store<double>(out, code, at, d);
    }
};

template <typename T> struct TsSumOf { typedef TsSumI type; };
template <> struct TsSumOf<float> { typedef TsSumF type; };
template <> struct TsSumOf<double> { typedef TsSumF type; };
template <> struct TsSumOf<__nv_bfloat16> { typedef TsSumF type; };
template <> struct TsSumOf<__half> { typedef TsSumF type; };

// MAX / MIN / ARGMAX / ARGMIN: the extreme value and its index. NaN wins over everything (the first NaN), and among
// equal values the lowest index wins — the CPU's sequential scan. The identity carries index LLONG_MAX.
template <typename A, bool MAX, bool INDEX> struct TsArg {
    A v;
    long long i;
    __device__ static TsArg identity() { return {MAX ? -ts_inf<A>() : ts_inf<A>(), 0x7fffffffffffffffLL}; }
    __device__ static __forceinline__ bool better(A v, long long i, A bv, long long bi) {
        if (v != v) return bv == bv || i < bi;
        if (bv != bv) return false;
        if (MAX ? v > bv : v < bv) return true;
        return v == bv && i < bi;
    }
    template <typename T> __device__ __forceinline__ void add(T x, int idx) {
        A a = (A) ts_nat(x);
        if (better(a, idx, v, i)) { v = a; i = idx; }
    }
    __device__ static TsArg combine(TsArg a, TsArg b) { return better(b.v, b.i, a.v, a.i) ? b : a; }
    __device__ TsArg shfl(int o) const { return {__shfl_xor_sync(0xffffffffu, v, o), __shfl_xor_sync(0xffffffffu, i, o)}; }
    __device__ TsRowPart pack() const { return {(double) v, 0.0, i}; }
    __device__ static TsArg unpack(const TsRowPart& p) { return {(A) p.a, p.i}; }
    __device__ void store(void* out, int code, long long at) const {
        if (INDEX) ts_store<long long>(out, code, at, i);
        else ts_store<double>(out, code, at, (double) v);
    }
};

// Online log-sum-exp: running max m and sum s of exp(x − m). A NaN sticks; rows of −inf keep m = −inf, s = 0;
// a +inf makes the row's result +inf (and its softmax NaN, as on the CPU where exp(inf − inf) poisons the sum).
template <typename A> struct TsLse {
    A m, s;
    __device__ static TsLse identity() { return {-ts_inf<A>(), (A) 0}; }
    __device__ __forceinline__ void push(A v) {
        if (m != m) return;
        if (v > m || v != v) {
            s = (m == -ts_inf<A>() ? (A) 0 : s * ts_exp(m - v)) + (A) 1;
            m = v;
        } else if (v != -ts_inf<A>()) {
            s += ts_exp(v - m);
        }
    }
    template <typename T> __device__ __forceinline__ void add(T x, int) { push((A) ts_nat(x)); }
    __device__ static TsLse combine(TsLse a, TsLse b) {
        if (a.m != a.m) return a;
        if (b.m != b.m) return b;
        A M = a.m > b.m ? a.m : b.m;
        if (M == -ts_inf<A>()) return {M, (A) 0};
        A s = (a.m == -ts_inf<A>() ? (A) 0 : a.s * ts_exp(a.m - M)) + (b.m == -ts_inf<A>() ? (A) 0 : b.s * ts_exp(b.m - M));
        return {M, s};
    }
    __device__ TsLse shfl(int o) const { return {__shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o)}; }
    __device__ TsRowPart pack() const { return {(double) m, (double) s, 0}; }
    __device__ static TsLse unpack(const TsRowPart& p) { return {(A) p.a, (A) p.b}; }
    // The CPU's rule: an infinite max is the result; otherwise max + log(sum).
    __device__ A value() const { return (m == ts_inf<A>() || m == -ts_inf<A>()) ? m : m + ts_log(s); }
    __device__ void store(void* out, int code, long long at) const { ts_store<A>(out, code, at, value()); }
};

// Sums of one or two accumulators (norm and softmax statistics), combined in double across threads.
template <typename A> struct TsSum1 {
    A s;
    __device__ static TsSum1 identity() { return {(A) 0}; }
    __device__ static TsSum1 combine(TsSum1 a, TsSum1 b) { return {a.s + b.s}; }
    __device__ TsSum1 shfl(int o) const { return {__shfl_xor_sync(0xffffffffu, s, o)}; }
};
template <typename A> struct TsSum2 {
    A a, b;
    __device__ static TsSum2 identity() { return {(A) 0, (A) 0}; }
    __device__ static TsSum2 combine(TsSum2 x, TsSum2 y) { return {x.a + y.a, x.b + y.b}; }
    __device__ TsSum2 shfl(int o) const { return {__shfl_xor_sync(0xffffffffu, a, o), __shfl_xor_sync(0xffffffffu, b, o)}; }
};

// ------------------------------------------------------------------------------------------------ sums over leading dims
// out[c] = Σ_r x[r·cols + c] for r < n: a sum over the leading dims of a dense tensor (bias gradients, [B·L, D] → [D]),
// read in place instead of transposed into rows first. Block (32, 8) covers 32 columns: row lane ty adds rows ty,
// ty + 8, … in order, then lane 0 adds the 8 lane sums in order (a fixed order: the same bits every run).
template <typename T>
__device__ void sum_leading_impl(const T* __restrict__ x, T* __restrict__ out, long long n, long long cols) {
    typedef typename TsAcc<T>::type A;
    __shared__ A part[8][32];
    const long long c = (long long) blockIdx.x * 32 + threadIdx.x;
    A acc = 0;
    if (c < cols) for (long long r = threadIdx.y; r < n; r += 8) acc += ts_acc(x[r * cols + c]);
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        A sum = 0;
        for (int k = 0; k < 8; k++) sum += part[k][threadIdx.x];
        out[c] = ts_from_acc<T>(sum);
    }
}
TS_FLOAT_ENTRIES(sum_leading, (const void* x, void* out, long long n, long long cols), ((const T*) x, (T*) out, n, cols))

// ------------------------------------------------------------------------------------------------ row reductions

// Reduces each row of x [rows, n] into out[row · outStride] (out of any dtype), or — when splits > 1 — each of the
// `splits` chunks of each row into part[row · splits + chunk], for reduce_finish_* to combine in order.
template <typename T, class S>
__device__ __forceinline__ void reduce_impl(const T* __restrict__ x, int rows, int n, int splits, int warpMode, void* out,
                                            long long outStride, int outDtype, TsRowPart* part) {
    TsGroup g = ts_group(warpMode);
    if (g.id >= (long long) rows * splits) return; // whole warps only (block mode launches exactly rows·splits blocks)
    int row = (int) (g.id / splits), chunk = (int) (g.id % splits);
    // Chunks are multiples of 64 elements, so each starts 16-byte aligned relative to the row.
    long long per = ((long long) n + splits - 1) / splits;
    per = (per + 63) & ~63LL;
    long long lo = per * chunk < n ? per * chunk : n, hi = lo + per < n ? lo + per : n;
    S s = S::identity();
    ts_row_read<T>(x + (long long) row * n + lo, (int) (hi - lo), (int) lo, g.t, g.nt, [&](T v, int i) { s.add(v, i); });
    s = ts_group_combine(s, warpMode);
    if (g.t == 0) {
        if (splits == 1) s.store(out, outDtype, (long long) row * outStride);
        else part[g.id] = s.pack();
    }
}

// Combines the chunks of each row in chunk order (one warp per row; lane l takes chunks l, l+32, …).
template <class S>
__device__ __forceinline__ void reduce_finish_impl(const TsRowPart* __restrict__ part, int rows, int splits, void* out,
                                                   long long outStride, int outDtype) {
    TsGroup g = ts_group(1);
    if (g.id >= rows) return;
    S s = S::identity();
    for (int c = g.t; c < splits; c += 32) s = S::combine(s, S::unpack(part[g.id * splits + c]));
    s = ts_warp_combine(s);
    if (g.t == 0) s.store(out, outDtype, g.id * outStride);
}

template <typename T> using TsMaxOf = TsArg<typename TsCmp<T>::type, true, false>;
template <typename T> using TsMinOf = TsArg<typename TsCmp<T>::type, false, false>;
template <typename T> using TsArgMaxOf = TsArg<typename TsCmp<T>::type, true, true>;
template <typename T> using TsArgMinOf = TsArg<typename TsCmp<T>::type, false, true>;
template <typename T> using TsLseOf = TsLse<typename TsCmp<T>::type>;

#define TS_REDUCE_PARAMS \
    (const void* x, int rows, int n, int splits, int warpMode, void* out, long long outStride, int outDtype, TsRowPart* part)
#define TS_REDUCE_ENTRY(kind, sfx, T, S)                                                                          \
    extern "C" __global__ void __launch_bounds__(512) reduce_##kind##_##sfx TS_REDUCE_PARAMS {                   \
        reduce_impl<T, S>((const T*) x, rows, n, splits, warpMode, out, outStride, outDtype, part);              \
    }
#define TS_REDUCE_KIND(kind, SOf)                            \
    TS_REDUCE_ENTRY(kind, f32, float, SOf<float>)            \
    TS_REDUCE_ENTRY(kind, f64, double, SOf<double>)          \
    TS_REDUCE_ENTRY(kind, bf16, __nv_bfloat16, SOf<__nv_bfloat16>) \
    TS_REDUCE_ENTRY(kind, f16, __half, SOf<__half>)          \
    TS_REDUCE_ENTRY(kind, i32, int, SOf<int>)                \
    TS_REDUCE_ENTRY(kind, i64, long long, SOf<long long>)    \
    TS_REDUCE_ENTRY(kind, u8, unsigned char, SOf<unsigned char>) \
    TS_REDUCE_ENTRY(kind, bool, TsBool8, SOf<TsBool8>)

template <typename T> using TsSumStateOf = typename TsSumOf<T>::type;
TS_REDUCE_KIND(sum, TsSumStateOf)
TS_REDUCE_KIND(max, TsMaxOf)
TS_REDUCE_KIND(min, TsMinOf)
TS_REDUCE_KIND(argmax, TsArgMaxOf)
TS_REDUCE_KIND(argmin, TsArgMinOf)
TS_REDUCE_KIND(logsumexp, TsLseOf)

// The second pass of split rows; the partials are double (64-bit sums for integer SUM), hence the _f64 / _i64 names.
#define TS_FINISH_PARAMS (const TsRowPart* part, int rows, int splits, void* out, long long outStride, int outDtype)
#define TS_FINISH_ENTRY(name, S) \
    extern "C" __global__ void __launch_bounds__(256) name TS_FINISH_PARAMS { reduce_finish_impl<S>(part, rows, splits, out, outStride, outDtype); }
TS_FINISH_ENTRY(reduce_finish_sum_f64, TsSumF)
TS_FINISH_ENTRY(reduce_finish_sum_i64, TsSumI)
TS_FINISH_ENTRY(reduce_finish_max_f64, TsMaxOf<double>)
TS_FINISH_ENTRY(reduce_finish_min_f64, TsMinOf<double>)
TS_FINISH_ENTRY(reduce_finish_argmax_f64, TsArgMaxOf<double>)
TS_FINISH_ENTRY(reduce_finish_argmin_f64, TsArgMinOf<double>)
TS_FINISH_ENTRY(reduce_finish_logsumexp_f64, TsLseOf<double>)

// ------------------------------------------------------------------------------------------------ softmax

// TS_FLOAT_ENTRIES with __launch_bounds__(512): block mode launches up to 512 threads per row.
#define TS_ROWS_ENTRIES(name, params, args)                                                                                     \
    extern "C" __global__ void __launch_bounds__(512) name##_f32 params { typedef float T; name##_impl<T> args; }              \
    extern "C" __global__ void __launch_bounds__(512) name##_f64 params { typedef double T; name##_impl<T> args; }             \
    extern "C" __global__ void __launch_bounds__(512) name##_bf16 params { typedef __nv_bfloat16 T; name##_impl<T> args; }     \
    extern "C" __global__ void __launch_bounds__(512) name##_f16 params { typedef __half T; name##_impl<T> args; }

// y = softmax(x) or log_softmax(x) per row. One read of the row for the online statistics (max, Σ exp(x − max)), a
// second (mostly from cache) to write. A row that is all −inf gives 0 (softmax) or −inf (log-softmax), like the CPU.
template <typename T>
__device__ __forceinline__ void softmax_impl(const T* __restrict__ x, T* __restrict__ y, int rows, int n, int warpMode, int log) {
    typedef typename TsAcc<T>::type A;
    TsGroup g = ts_group(warpMode);
    if (g.id >= rows) return;
    const T* xr = x + g.id * n;
    T* yr = y + g.id * n;
    TsLse<A> st = TsLse<A>::identity();
    ts_row_read<T>(xr, n, 0, g.t, g.nt, [&](T v, int) { st.push(ts_acc(v)); });
    st = ts_group_combine(st, warpMode);
    if (st.m == -ts_inf<A>()) {
        T fill = ts_from_acc<T>(log ? -ts_inf<A>() : (A) 0);
        ts_row_map<T>(xr, yr, n, g.t, g.nt, [&](T, int) { return fill; });
        return;
    }
    if (st.m == ts_inf<A>()) st.s = ts_nan<A>(); // exp(inf − inf): the CPU's sum is NaN
    A m = st.m;
    if (log) {
        A lse = m + ts_log(st.s);
        ts_row_map<T>(xr, yr, n, g.t, g.nt, [&](T v, int) { return ts_from_acc<T>(ts_acc(v) - lse); });
    } else {
        A inv = (A) 1 / st.s;
        ts_row_map<T>(xr, yr, n, g.t, g.nt, [&](T v, int) { return ts_from_acc<T>(ts_exp(ts_acc(v) - m) * inv); });
    }
}

// softmax: dx = y ⊙ (dy − Σ dy⊙y); log-softmax: dx = dy − exp(y) · Σ dy.
template <typename T>
__device__ __forceinline__ void softmax_backward_impl(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, int rows,
                                                      int n, int warpMode, int log) {
    typedef typename TsAcc<T>::type A;
    TsGroup g = ts_group(warpMode);
    if (g.id >= rows) return;
    const T* yr = y + g.id * n;
    const T* gr = dy + g.id * n;
    T* xr = dx + g.id * n;
    TsSum1<A> acc = TsSum1<A>::identity();
    if (log) ts_row_read<T>(gr, n, 0, g.t, g.nt, [&](T gv, int) { acc.s += ts_acc(gv); });
    else ts_row_read2<T>(yr, gr, n, g.t, g.nt, [&](T yv, T gv, int) { acc.s += ts_acc(yv) * ts_acc(gv); });
    A s = ts_group_combine(acc, warpMode).s;
    if (log) ts_row_map2<T>(yr, gr, xr, n, g.t, g.nt, [&](T yv, T gv, int) { return ts_from_acc<T>(ts_acc(gv) - ts_exp(ts_acc(yv)) * s); });
    else ts_row_map2<T>(yr, gr, xr, n, g.t, g.nt, [&](T yv, T gv, int) { return ts_from_acc<T>(ts_acc(yv) * (ts_acc(gv) - s)); });
}

// The fast path for short aligned rows (launched only when x and y rows start 16-byte aligned and a row is at most
// 32 lanes × 8 vectors = 4 KiB): one warp per row keeps the whole row in registers, so it is read from memory once;
// exact max, then Σ exp(x − max), then the write — the CPU's order of operations.
template <typename T>
__device__ __forceinline__ void softmax_cached_impl(const T* __restrict__ x, T* __restrict__ y, int rows, int n, int log) {
    typedef typename TsAcc<T>::type A;
    constexpr int V = 16 / sizeof(T), K = 8;
    TsGroup g = ts_group(1);
    if (g.id >= rows) return;
    const uint4* __restrict__ q = reinterpret_cast<const uint4*>(x + g.id * n);
    uint4* __restrict__ qo = reinterpret_cast<uint4*>(y + g.id * n);
    int nv = n / V;
    uint4 r[K];
#pragma unroll
    for (int k = 0; k < K; ++k) if (g.t + 32 * k < nv) r[k] = q[g.t + 32 * k];
    A m = -ts_inf<A>();
#pragma unroll
    for (int k = 0; k < K; ++k) {
        if (g.t + 32 * k < nv) {
            const T* e = reinterpret_cast<const T*>(&r[k]);
#pragma unroll
            for (int j = 0; j < V; ++j) { A v = ts_acc(e[j]); m = v > m || v != v ? v : m; }
        }
    }
    m = ts_warp_max(m);
    A fill = log ? -ts_inf<A>() : (A) 0, s = 0;
    if (m != -ts_inf<A>()) {
#pragma unroll
        for (int k = 0; k < K; ++k) {
            if (g.t + 32 * k < nv) {
                const T* e = reinterpret_cast<const T*>(&r[k]);
#pragma unroll
                for (int j = 0; j < V; ++j) s += ts_exp(ts_acc(e[j]) - m);
            }
        }
        s = ts_warp_sum(s);
    }
    A lse = m + ts_log(s), inv = (A) 1 / s;
#pragma unroll
    for (int k = 0; k < K; ++k) {
        if (g.t + 32 * k < nv) {
            const T* e = reinterpret_cast<const T*>(&r[k]);
            uint4 w;
            T* ew = reinterpret_cast<T*>(&w);
#pragma unroll
            for (int j = 0; j < V; ++j) {
                A v = ts_acc(e[j]);
                ew[j] = ts_from_acc<T>(m == -ts_inf<A>() ? fill : log ? v - lse : ts_exp(v - m) * inv);
            }
            qo[g.t + 32 * k] = w;
        }
    }
}

// No F64 entry: 16 double exponentials per vector slot spill; F64 rows take the online path.
#define TS_CACHED_ENTRY(sfx, T)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256) softmax_cached_##sfx(const void* x, void* y, int rows, int n, int log) { \
        softmax_cached_impl<T>((const T*) x, (T*) y, rows, n, log);                                                   \
    }
TS_CACHED_ENTRY(f32, float)
TS_CACHED_ENTRY(bf16, __nv_bfloat16)
TS_CACHED_ENTRY(f16, __half)

TS_ROWS_ENTRIES(softmax, (const void* x, void* y, int rows, int n, int warpMode, int log),
                 ((const T*) x, (T*) y, rows, n, warpMode, log))
TS_ROWS_ENTRIES(softmax_backward, (const void* y, const void* dy, void* dx, int rows, int n, int warpMode, int log),
                 ((const T*) y, (const T*) dy, (T*) dx, rows, n, warpMode, log))

// ------------------------------------------------------------------------------------------------ LayerNorm / RMSNorm

// Element i of a weight or bias whose dtype may differ from x's (mixed precision); the typed load when it does not.
template <typename T>
__device__ __forceinline__ typename TsAcc<T>::type ts_param(const void* p, int code, int i) {
    typedef typename TsAcc<T>::type A;
    if (code == TsCode<T>::value) return ts_acc(((const T*) p)[i]);
    return ts_load<A>(p, code, i);
}

// LayerNorm: mean, then the variance of x − mean (two passes, as on the CPU); RMSNorm: mean of x². rstd =
// 1/sqrt(var + eps) in double; y = (x − mean)·rstd·w + b. Threads accumulate in A, the group combines in double.
template <typename T>
__device__ __forceinline__ void norm_forward_impl(const T* __restrict__ x, const void* w, int wCode, const void* b, int bCode,
                                                  T* __restrict__ y, double* mean, double* rstd, int rows, int dim, double eps,
                                                  int rms, int warpMode) {
    typedef typename TsAcc<T>::type A;
    TsGroup g = ts_group(warpMode);
    if (g.id >= rows) return;
    const T* xr = x + g.id * dim;
    T* yr = y + g.id * dim;
    double mu = 0;
    if (!rms) {
        A acc = 0;
        ts_row_read<T>(xr, dim, 0, g.t, g.nt, [&](T v, int) { acc += ts_acc(v); });
        mu = ts_group_combine(TsSum1<double>{(double) acc}, warpMode).s / dim;
    }
    A m = (A) mu;
    A acc = 0;
    ts_row_read<T>(xr, dim, 0, g.t, g.nt, [&](T v, int) { A c = ts_acc(v) - m; acc += c * c; });
    double var = ts_group_combine(TsSum1<double>{(double) acc}, warpMode).s;
    double rs = 1.0 / sqrt(var / dim + eps);
    if (g.t == 0) {
        if (!rms) mean[g.id] = mu;
        rstd[g.id] = rs;
    }
    A r = (A) rs;
    if (w != nullptr && b != nullptr) {
        ts_row_map<T>(xr, yr, dim, g.t, g.nt, [&](T v, int i) {
            return ts_from_acc<T>((ts_acc(v) - m) * r * ts_param<T>(w, wCode, i) + ts_param<T>(b, bCode, i));
        });
    } else if (w != nullptr) {
        ts_row_map<T>(xr, yr, dim, g.t, g.nt, [&](T v, int i) { return ts_from_acc<T>((ts_acc(v) - m) * r * ts_param<T>(w, wCode, i)); });
    } else if (b != nullptr) {
        ts_row_map<T>(xr, yr, dim, g.t, g.nt, [&](T v, int i) { return ts_from_acc<T>((ts_acc(v) - m) * r + ts_param<T>(b, bCode, i)); });
    } else {
        ts_row_map<T>(xr, yr, dim, g.t, g.nt, [&](T v, int) { return ts_from_acc<T>((ts_acc(v) - m) * r); });
    }
}

// dx = rstd·(g·w − mean(g·w) − x̂·mean(g·w·x̂)) with x̂ = (x − mean)·rstd; RMSNorm drops the mean(g·w) term.
template <typename T>
__device__ __forceinline__ void norm_backward_impl(const T* __restrict__ x, const void* w, int wCode, const T* __restrict__ dy,
                                                   T* __restrict__ dx, const double* mean, const double* rstd, int rows, int dim,
                                                   int rms, int warpMode) {
    typedef typename TsAcc<T>::type A;
    TsGroup g = ts_group(warpMode);
    if (g.id >= rows) return;
    const T* xr = x + g.id * dim;
    const T* gr = dy + g.id * dim;
    T* dr = dx + g.id * dim;
    A m = rms ? (A) 0 : (A) mean[g.id], r = (A) rstd[g.id];
    A sg = 0, sgx = 0;
    if (w != nullptr) {
        ts_row_read2<T>(xr, gr, dim, g.t, g.nt, [&](T xv, T gv, int i) {
            A gw = ts_acc(gv) * ts_param<T>(w, wCode, i);
            sg += gw;
            sgx += gw * ((ts_acc(xv) - m) * r);
        });
    } else {
        ts_row_read2<T>(xr, gr, dim, g.t, g.nt, [&](T xv, T gv, int) {
            A gw = ts_acc(gv);
            sg += gw;
            sgx += gw * ((ts_acc(xv) - m) * r);
        });
    }
    TsSum2<double> s = ts_group_combine(TsSum2<double>{(double) sg, (double) sgx}, warpMode);
    A cg = rms ? (A) 0 : (A) (s.a / dim), cgx = (A) (s.b / dim);
    if (w != nullptr) {
        ts_row_map2<T>(xr, gr, dr, dim, g.t, g.nt, [&](T xv, T gv, int i) {
            A gw = ts_acc(gv) * ts_param<T>(w, wCode, i);
            return ts_from_acc<T>(r * (gw - cg - ((ts_acc(xv) - m) * r) * cgx));
        });
    } else {
        ts_row_map2<T>(xr, gr, dr, dim, g.t, g.nt, [&](T xv, T gv, int) {
            return ts_from_acc<T>(r * (ts_acc(gv) - cg - ((ts_acc(xv) - m) * r) * cgx));
        });
    }
}

// Partial weight / bias gradients: block (32, 8) covers 32 columns of rows [blockIdx.y·rowsPerBlock, +rowsPerBlock);
// pw / pb [gridDim.y, dim] (either may be null) receive Σ dy·x̂ and Σ dy over those rows. No atomics: the partials
// are summed in block order by norm_params_finish_f64, so the result is reproducible.
template <typename T>
__device__ __forceinline__ void norm_params_impl(const T* __restrict__ x, const T* __restrict__ dy, const double* mean,
                                                 const double* rstd, int rows, int dim, int rowsPerBlock, double* pw, double* pb) {
    typedef typename TsAcc<T>::type A;
    __shared__ double sw[8][33], sb[8][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    long long col = (long long) blockIdx.x * 32 + tx;
    long long r0 = (long long) blockIdx.y * rowsPerBlock, r1 = r0 + rowsPerBlock < rows ? r0 + rowsPerBlock : rows;
    double aw = 0, ab = 0;
    if (col < dim) {
        for (long long r = r0 + ty; r < r1; r += 8) {
            A gv = ts_acc(dy[r * dim + col]);
            A xh = (ts_acc(x[r * dim + col]) - (mean != nullptr ? (A) mean[r] : (A) 0)) * (A) rstd[r];
            aw += (double) (gv * xh);
            ab += (double) gv;
        }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    if (ty == 0 && col < dim) {
        double s = 0, t = 0;
#pragma unroll
        for (int k = 0; k < 8; ++k) { s += sw[k][tx]; t += sb[k][tx]; }
        long long at = (long long) blockIdx.y * dim + col;
        if (pw != nullptr) pw[at] = s;
        if (pb != nullptr) pb[at] = t;
    }
}

TS_ROWS_ENTRIES(norm_forward,
                 (const void* x, const void* w, int wCode, const void* b, int bCode, void* y, double* mean, double* rstd, int rows,
                  int dim, double eps, int rms, int warpMode),
                 ((const T*) x, w, wCode, b, bCode, (T*) y, mean, rstd, rows, dim, eps, rms, warpMode))
TS_ROWS_ENTRIES(norm_backward,
                 (const void* x, const void* w, int wCode, const void* dy, void* dx, const double* mean, const double* rstd, int rows,
                  int dim, int rms, int warpMode),
                 ((const T*) x, w, wCode, (const T*) dy, (T*) dx, mean, rstd, rows, dim, rms, warpMode))
TS_ROWS_ENTRIES(norm_params,
                 (const void* x, const void* dy, const double* mean, const double* rstd, int rows, int dim, int rowsPerBlock,
                  double* pw, double* pb),
                 ((const T*) x, (const T*) dy, mean, rstd, rows, dim, rowsPerBlock, pw, pb))

// dw[j] = Σ_b pw[b, j], db[j] = Σ_b pb[b, j] in block order; written (not accumulated) in their own dtypes.
extern "C" __global__ void norm_params_finish_f64(const double* pw, const double* pb, int blocks, int dim, void* dw, int dwCode,
                                                  void* db, int dbCode) {
    TS_GRID_LOOP(j, dim) {
        if (pw != nullptr) {
            double s = 0;
            for (int b = 0; b < blocks; ++b) s += pw[(long long) b * dim + j];
            ts_store<double>(dw, dwCode, j, s);
        }
        if (pb != nullptr) {
            double s = 0;
            for (int b = 0; b < blocks; ++b) s += pb[(long long) b * dim + j];
            ts_store<double>(db, dbCode, j, s);
        }
    }
}
