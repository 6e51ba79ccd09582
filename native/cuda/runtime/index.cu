// Row gathers and scatters over contiguous operands viewed as [outer, size, inner], and row scans: the CUDA twins
// of dev.tessera.runtime.cpu.IndexKernels (Java side: dev.tessera.runtime.cuda.CudaIndexing).
//
// scatter_add accumulates with atomicAdd, so duplicate indices are summed in whatever order the threads arrive rather
// than in index order as on the CPU: results match the CPU to rounding, not bit for bit, and may differ by rounding
// between runs. add_rows (the embedding's and index_select's backward) instead follows a plan of the indices grouped
// by row, built on the host: each output element is written by one thread, which sums its row's duplicates in index
// order, so it is deterministic. Gathers, selects and scans write each output once and are deterministic too.
#include "tessera.cuh"

// ------------------------------------------------------------------ helpers

// An index element as int64, like Elements.getLong: I64, I32, U8, BOOL exactly; floating values truncate (the op
// layer only passes integer index tensors).
__device__ __forceinline__ long long ix_load(const void* p, int dtype, long long i) {
    switch (dtype) {
        case TS_I64: return ((const long long*) p)[i];
        case TS_I32: return ((const int*) p)[i];
        case TS_U8: return ((const unsigned char*) p)[i];
        case TS_BOOL: return ((const unsigned char*) p)[i] != 0;
        default: return ts_from_double<long long>(ts_load<double>(p, dtype, i));
    }
}

// Records an out-of-range index: flag[0] goes 0 → 1 once, and the thread that won writes the index to flag[1].
// The host zeroes both words before the launch and reads them back after it (see CudaIndexing).
__device__ __forceinline__ void ix_flag_bad(unsigned long long* flag, long long j) {
    if (*(volatile unsigned long long*) flag == 0ull && atomicCAS(flag, 0ull, 1ull) == 0ull) flag[1] = (unsigned long long) j;
}

// Accumulation into a storage type T: V is the value type loaded from the (runtime-typed) source, add is atomic.
// Floating accumulators load the source as float (double for F64); integer ones load it exactly as int64 and
// wrap on overflow (the CPU goes through double and saturates; only reachable past 2^53).
template <typename T> struct IxAdd;
template <> struct IxAdd<float> {
    typedef float V;
    static __device__ __forceinline__ V load(const void* p, int code, long long i) { return ts_load<float>(p, code, i); }
    static __device__ __forceinline__ void add(float* at, V v) { atomicAdd(at, v); }
};
template <> struct IxAdd<double> {
    typedef double V;
    static __device__ __forceinline__ V load(const void* p, int code, long long i) { return ts_load<double>(p, code, i); }
    static __device__ __forceinline__ void add(double* at, V v) { atomicAdd(at, v); }
};
template <> struct IxAdd<__nv_bfloat16> {
    typedef float V;
    static __device__ __forceinline__ V load(const void* p, int code, long long i) { return ts_load<float>(p, code, i); }
    static __device__ __forceinline__ void add(__nv_bfloat16* at, V v) { atomicAdd(at, __float2bfloat16_rn(v)); }
};
template <> struct IxAdd<__half> {
    typedef float V;
    static __device__ __forceinline__ V load(const void* p, int code, long long i) { return ts_load<float>(p, code, i); }
    static __device__ __forceinline__ void add(__half* at, V v) { atomicAdd(at, __float2half_rn(v)); }
};
template <> struct IxAdd<int> {
    typedef long long V;
    static __device__ __forceinline__ V load(const void* p, int code, long long i) { return ix_load(p, code, i); }
    static __device__ __forceinline__ void add(int* at, V v) { atomicAdd(at, (int) v); }
};
template <> struct IxAdd<long long> {
    typedef long long V;
    static __device__ __forceinline__ V load(const void* p, int code, long long i) { return ix_load(p, code, i); }
    static __device__ __forceinline__ void add(long long* at, V v) {
        atomicAdd((unsigned long long*) at, (unsigned long long) v);
    }
};

// Entries for every dtype (plain element copies: the storage type only fixes the element size).
#define IX_ALL_ENTRIES(name, params, args)                                                              \
    TS_FLOAT_ENTRIES(name, params, args)                                                                \
    extern "C" __global__ void name##_i32 params { typedef int T; name##_impl<T> args; }              \
    extern "C" __global__ void name##_i64 params { typedef long long T; name##_impl<T> args; }        \
    extern "C" __global__ void name##_u8 params { typedef unsigned char T; name##_impl<T> args; }     \
    extern "C" __global__ void name##_bool params { typedef unsigned char T; name##_impl<T> args; }

// Entries for the accumulating kernels: the float dtypes plus I32 and I64 (no byte-wide atomics for U8/BOOL).
#define IX_ADD_ENTRIES(name, params, args)                                                              \
    TS_FLOAT_ENTRIES(name, params, args)                                                                \
    extern "C" __global__ void name##_i32 params { typedef int T; name##_impl<T> args; }              \
    extern "C" __global__ void name##_i64 params { typedef long long T; name##_impl<T> args; }

// ------------------------------------------------------------------ select_rows / add_rows_sorted (host-checked indices)

// out[o, i, c] = x[o, idx[i], c]; x [outer, size, inner], out [outer, n, inner]; idx int64 already validated.
template <typename T>
__device__ void select_rows_impl(const T* __restrict__ x, long long size, long long inner, const long long* __restrict__ idx,
                                 long long n, T* __restrict__ out, long long total) {
    TS_GRID_LOOP(t, total) {
        long long r = t / inner, c = t - r * inner;
        long long o = r / n, i = r - o * n;
        out[t] = x[(o * size + idx[i]) * inner + c];
    }
}
IX_ALL_ENTRIES(select_rows,
               (const void* x, long long size, long long inner, const long long* idx, long long n, void* out, long long total),
               ((const T*) x, size, inner, idx, n, (T*) out, total))

// An accumulator element from the type IxAdd<T>::V sums in (ts_nat reads it into that type).
template <typename T> __device__ __forceinline__ T ix_store(typename IxAdd<T>::V v) { return (T) v; }
template <> __device__ __forceinline__ __nv_bfloat16 ix_store<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half ix_store<__half>(float v) { return __float2half_rn(v); }

// acc[o, rows[j], c] += sum of g[o, order[k], c] for k in [starts[j], starts[j+1]), k ascending; g of any dtype (code
// gcode), acc typed. plan (int64, built and validated on the host, see RowPlan) = [idx (n) | order (n) | starts
// (unique + 1) | rows (unique)]: order lists the positions i sorted by idx[i] (ties by i), so a row's duplicates are
// summed in index order, from zero, and then added once. One thread per output element: deterministic, and for
// F32/F64 into a zero accumulator the CPU's sequential adds exactly.
template <typename T>
__device__ void add_rows_sorted_impl(const void* __restrict__ g, int gcode, long long size, long long inner,
                                     const long long* __restrict__ plan, long long n, long long unique, T* acc, long long total) {
    const long long* order = plan + n;
    const long long* starts = plan + 2 * n;
    const long long* rows = starts + unique + 1;
    TS_GRID_LOOP(t, total) {
        long long r = t / inner, c = t - r * inner;
        long long o = r / unique, j = r - o * unique;
        typename IxAdd<T>::V sum = 0;
        for (long long k = starts[j]; k < starts[j + 1]; k++) sum += IxAdd<T>::load(g, gcode, (o * n + order[k]) * inner + c);
        T* at = acc + (o * size + rows[j]) * inner + c;
        *at = ix_store<T>(ts_nat(*at) + sum);
    }
}
IX_ADD_ENTRIES(add_rows_sorted,
               (const void* g, int gcode, long long size, long long inner, const long long* plan, long long n, long long unique,
                void* acc, long long total),
               (g, gcode, size, inner, plan, n, unique, (T*) acc, total))

// ------------------------------------------------------------------ gather / scatter_add (device-checked indices)

// out[o, i, c] = x[o, idx[o, i, c], c]; idx and out [outer, n, inner]. A bad index is flagged and its output skipped.
template <typename T>
__device__ void gather_impl(const T* __restrict__ x, long long size, long long inner, const void* __restrict__ idx, int icode,
                            long long n, T* __restrict__ out, long long total, unsigned long long* flag) {
    long long ni = n * inner;
    TS_GRID_LOOP(t, total) {
        long long o = t / ni, c = t % inner;
        long long j = ix_load(idx, icode, t);
        if (j < 0 || j >= size) { ix_flag_bad(flag, j); continue; }
        out[t] = x[(o * size + j) * inner + c];
    }
}
IX_ALL_ENTRIES(gather,
               (const void* x, long long size, long long inner, const void* idx, int icode, long long n, void* out, long long total,
                unsigned long long* flag),
               ((const T*) x, size, inner, idx, icode, n, (T*) out, total, flag))

// acc[o, idx[o, i, c], c] += src[o, i, c]; src of any dtype (code scode). A bad index is flagged and skipped.
template <typename T>
__device__ void scatter_add_impl(T* acc, long long size, long long inner, const void* __restrict__ idx, int icode, long long n,
                                 const void* __restrict__ src, int scode, long long total, unsigned long long* flag) {
    long long ni = n * inner;
    TS_GRID_LOOP(t, total) {
        long long o = t / ni, c = t % inner;
        long long j = ix_load(idx, icode, t);
        if (j < 0 || j >= size) { ix_flag_bad(flag, j); continue; }
        IxAdd<T>::add(acc + (o * size + j) * inner + c, IxAdd<T>::load(src, scode, t));
    }
}
IX_ADD_ENTRIES(scatter_add,
               (void* acc, long long size, long long inner, const void* idx, int icode, long long n, const void* src, int scode,
                long long total, unsigned long long* flag),
               ((T*) acc, size, inner, idx, icode, n, src, scode, total, flag))

// ------------------------------------------------------------------ row scans (cumsum / cumprod)

// Every scan accumulates in double, like the CPU, and rounds each output once to the output type (named by the
// suffix; the input is read through its runtime dtype code, so I32/U8/BOOL rows can scan into I64).

__device__ __forceinline__ double scan_op(double a, double b, int product) { return product ? a * b : a + b; }

// Short rows: one thread per row, left to right, exactly the CPU's order (bit-identical results).
template <typename T>
__device__ void scan_rows_seq_impl(const void* __restrict__ x, int xcode, long long rows, long long n, T* __restrict__ out, int product) {
    TS_GRID_LOOP(r, rows) {
        double acc = product ? 1.0 : 0.0;
        for (long long i = 0; i < n; ++i) {
            long long at = r * n + i;
            acc = scan_op(acc, ts_load<double>(x, xcode, at), product);
            out[at] = ts_from_double<T>(acc);
        }
    }
}

// Long rows: one block per row (grid-stride over rows), tiles of blockDim elements; warp inclusive scans with
// shuffles, a scan of the warp totals by warp 0, and a carry from tile to tile (the last element's value, so the
// carry equals the output just written). blockDim is a multiple of 32, at most 1024.
template <typename T>
__device__ void scan_rows_impl(const void* __restrict__ x, int xcode, long long rows, long long n, T* __restrict__ out, int product) {
    __shared__ double warp_total[32];
    __shared__ double carry_s;
    const double one = product ? 1.0 : 0.0;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        double carry = one;
        for (long long base = 0; base < n; base += blockDim.x) {
            long long i = base + threadIdx.x;
            double v = i < n ? ts_load<double>(x, xcode, r * n + i) : one;
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                double w = __shfl_up_sync(0xffffffffu, v, o);
                if (lane >= o) v = scan_op(w, v, product);
            }
            if (lane == 31) warp_total[warp] = v;
            __syncthreads();
            if (warp == 0) {
                double s = lane < warps ? warp_total[lane] : one;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    double w = __shfl_up_sync(0xffffffffu, s, o);
                    if (lane >= o) s = scan_op(w, s, product);
                }
                warp_total[lane] = s;
            }
            __syncthreads();
            double prefix = warp > 0 ? scan_op(carry, warp_total[warp - 1], product) : carry;
            v = scan_op(prefix, v, product);
            if (i < n) out[r * n + i] = ts_from_double<T>(v);
            if (threadIdx.x == blockDim.x - 1) carry_s = v;
            __syncthreads();
            carry = carry_s;
        }
    }
}

#define SCAN_ENTRIES(name)                                                                                   \
    TS_FLOAT_ENTRIES(name, (const void* x, int xcode, long long rows, long long n, void* out, int product),  \
                     (x, xcode, rows, n, (T*) out, product))                                                 \
    extern "C" __global__ void name##_i64(const void* x, int xcode, long long rows, long long n, void* out, int product) { \
        name##_impl<long long>(x, xcode, rows, n, (long long*) out, product);                               \
    }
SCAN_ENTRIES(scan_rows_seq)
SCAN_ENTRIES(scan_rows)

// ------------------------------------------------------------------ cumprod backward

// dx_i = Σ_{j≥i} g_j Π_{k≤j, k≠i} x_k per row, exact with zeros. One thread per element; it forms Π_{k<i} x_k and
// the running product in the CPU's order, in double with explicit round-to-nearest operations (no FMA
// contraction), so the result is bit-identical to the CPU. O(n) per thread, O(n²) per row, like the CPU.
template <typename T>
__device__ void cumprod_backward_impl(const void* __restrict__ x, int xcode, const void* __restrict__ g, int gcode,
                                      long long rows, long long n, T* __restrict__ dx) {
    TS_GRID_LOOP(t, rows * n) {
        long long r = t / n, i = t - r * n, base = r * n;
        double prefix = 1.0;
        for (long long k = 0; k < i; ++k) prefix = __dmul_rn(prefix, ts_load<double>(x, xcode, base + k));
        double sum = 0.0, run = prefix;
        for (long long j = i; j < n; ++j) {
            if (j > i) run = __dmul_rn(run, ts_load<double>(x, xcode, base + j));
            sum = __dadd_rn(sum, __dmul_rn(ts_load<double>(g, gcode, base + j), run));
        }
        dx[t] = ts_from_double<T>(sum);
    }
}
TS_FLOAT_ENTRIES(cumprod_backward,
                 (const void* x, int xcode, const void* g, int gcode, long long rows, long long n, void* dx),
                 (x, xcode, g, gcode, rows, n, (T*) dx))
