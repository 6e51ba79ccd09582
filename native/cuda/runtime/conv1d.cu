// The causal depthwise 1-D convolution, channels last: x [B, L, C], weight [C, K], bias [C];
// y[b,t,c] = bias[c] + Σ_j w[c,j]·x[b, t−(K−1)+j, c], zeros before the start. The CUDA twin of
// dev.tessera.runtime.cpu.Conv1dKernel (Java side: dev.tessera.runtime.cuda.CudaConv1d).
//
// x and dx have their channels contiguous and any batch and position strides (xB, xT; dxB, dxT, in elements), so a
// slice of a wider projection is read, and its gradient written, where it lies; y, dy and the weights are contiguous.
//
// Packed sequences: `starts` (int32 per position, null when absent, then B = 1) gives where each position's document
// begins; a tap reading x[src] for output t is taken only when src >= starts[t].
//
// Kernels are named by x's dtype (x, y, dx share it); weight, bias, dy, dw and db are read and written through their
// runtime dtype codes, so mixed precision works. F32 accumulates with fmaf in tap order starting from the bias, which
// is the order of the CPU's F32 SIMD path; F64 uses separate double multiply and add in the CPU generic path's order
// (bit-identical); BF16/F16 accumulate in float (the CPU uses double), so they match to rounding.
#include "tessera.cuh"

__device__ __forceinline__ float cv_fma(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double cv_fma(double a, double b, double c) { return __dadd_rn(__dmul_rn(a, b), c); }

// ------------------------------------------------------------------ forward: one thread per output element

template <typename T>
__device__ void conv1d_forward_impl(const T* __restrict__ x, long long xB, long long xT, const void* __restrict__ w, int wcode,
                                    const void* __restrict__ bias, int bcode, T* __restrict__ y, long long batch, int len, int ch, int k,
                                    const int* __restrict__ starts) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(e, batch * len * ch) {
        long long bt = e / ch;
        int c = (int) (e - bt * ch);
        long long b = bt / len;
        int t = (int) (bt - b * len);
        int lo = starts == nullptr ? 0 : starts[t];
        A acc = bias == nullptr ? (A) 0 : ts_load<A>(bias, bcode, c);
        for (int j = 0; j < k; ++j) {
            int src = t - (k - 1) + j;
            if (src < lo) continue;
            acc = cv_fma(ts_load<A>(w, wcode, (long long) c * k + j), ts_acc(x[b * xB + src * xT + c]), acc);
        }
        y[e] = ts_from_acc<T>(acc);
    }
}
TS_FLOAT_ENTRIES(conv1d_forward,
                 (const void* x, long long xB, long long xT, const void* w, int wcode, const void* bias, int bcode, void* y,
                  long long batch, int len, int ch, int k, const int* starts),
                 ((const T*) x, xB, xT, w, wcode, bias, bcode, (T*) y, batch, len, ch, k, starts))

// ------------------------------------------------------------------ backward dx: one thread per input element

// dx[b,t,c] = Σ_j w[c,j]·dy[b, t+(K−1)−j, c] over the outputs that read x[t] (inside the row, and whose document
// had begun at t). Overwrites dx, like the CPU.
template <typename T>
__device__ void conv1d_backward_dx_impl(const void* __restrict__ w, int wcode, const void* __restrict__ g, int gcode, T* __restrict__ dx,
                                        long long dxB, long long dxT, long long batch, int len, int ch, int k,
                                        const int* __restrict__ starts) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(e, batch * len * ch) {
        long long bt = e / ch;
        int c = (int) (e - bt * ch);
        long long b = bt / len;
        int t = (int) (bt - b * len);
        A acc = (A) 0;
        for (int j = 0; j < k; ++j) {
            int dst = t + (k - 1) - j;
            if (dst >= len || (starts != nullptr && starts[dst] > t)) continue;
            acc = cv_fma(ts_load<A>(w, wcode, (long long) c * k + j), ts_load<A>(g, gcode, (b * len + dst) * ch + c), acc);
        }
        dx[b * dxB + t * dxT + c] = ts_from_acc<T>(acc);
    }
}
TS_FLOAT_ENTRIES(conv1d_backward_dx,
                 (const void* w, int wcode, const void* g, int gcode, void* dx, long long dxB, long long dxT, long long batch, int len,
                  int ch, int k, const int* starts),
                 (w, wcode, g, gcode, (T*) dx, dxB, dxT, batch, len, ch, k, starts))

// ------------------------------------------------------------------ backward dw, db: deterministic two-pass reduction

// At most this many taps per pass; the host runs several passes (j0 = 0, 8, 16, …) for longer kernels.
#define CV_TAPS 8
#define CV_BX 32
#define CV_BY 8

// Pass 1. Block (32, 8): x runs over 32 channels (coalesced), y over positions p = b·L + t, strided by
// 8·gridDim.y. Each thread sums dy·x for taps j0 … j0+kk−1 and dy (the bias term) over its positions; the block
// adds its 8 rows in order and writes partial[blockIdx.y][j][c] (j = kk is the bias). No atomics: the sum for a
// given shape is the same on every run.
template <typename T>
__device__ void conv1d_backward_dw_impl(const T* __restrict__ x, long long xB, long long xT, const void* __restrict__ g, int gcode,
                                        void* partial_v, long long batch, int len, int ch, int k, int j0, int kk,
                                        const int* __restrict__ starts) {
    typedef typename TsAcc<T>::type A;
    __shared__ double sbuf[CV_BY * (CV_TAPS + 1) * CV_BX];
    A* s = (A*) sbuf;
    A* partial = (A*) partial_v;
    int c = blockIdx.x * CV_BX + threadIdx.x;
    A aw[CV_TAPS];
#pragma unroll
    for (int j = 0; j < CV_TAPS; ++j) aw[j] = (A) 0;
    A ab = (A) 0;
    if (c < ch) {
        long long positions = batch * len;
        for (long long p = (long long) blockIdx.y * CV_BY + threadIdx.y; p < positions; p += (long long) gridDim.y * CV_BY) {
            long long b = p / len;
            int t = (int) (p - b * len);
            A gv = ts_load<A>(g, gcode, p * ch + c);
            ab += gv;
            int lo = starts == nullptr ? 0 : starts[t];
#pragma unroll
            for (int j = 0; j < CV_TAPS; ++j) {
                if (j >= kk) break;
                int src = t - (k - 1) + j0 + j;
                if (src >= lo) aw[j] = cv_fma(gv, ts_acc(x[b * xB + src * xT + c]), aw[j]);
            }
        }
    }
#pragma unroll
    for (int j = 0; j < CV_TAPS; ++j) s[(threadIdx.y * (CV_TAPS + 1) + j) * CV_BX + threadIdx.x] = aw[j];
    s[(threadIdx.y * (CV_TAPS + 1) + CV_TAPS) * CV_BX + threadIdx.x] = ab;
    __syncthreads();
    if (c >= ch) return;
    // Thread row y sums tap y (and row 0 also the bias) over the 8 rows, in order.
    for (int j = threadIdx.y; j <= kk; j += CV_BY) {
        int slot = j == kk ? CV_TAPS : j;
        A sum = (A) 0;
        for (int y = 0; y < CV_BY; ++y) sum += s[(y * (CV_TAPS + 1) + slot) * CV_BX + threadIdx.x];
        partial[((long long) blockIdx.y * (kk + 1) + j) * ch + c] = sum;
    }
}
TS_FLOAT_ENTRIES(conv1d_backward_dw,
                 (const void* x, long long xB, long long xT, const void* g, int gcode, void* partial, long long batch, int len, int ch,
                  int k, int j0, int kk, const int* starts),
                 ((const T*) x, xB, xT, g, gcode, partial, batch, len, ch, k, j0, kk, starts))

// Pass 2. One thread per (j, c), j ≤ kk: sums the `parts` partials in order and overwrites dw[c, j0+j] (j < kk,
// when dw is not null) or db[c] (j = kk, when db is not null and j0 = 0), like the CPU, which also overwrites.
template <typename T>
__device__ void conv1d_backward_dw_finish_impl(const void* partial_v, int parts, void* dw, int dwcode, void* db, int dbcode, int ch,
                                               int k, int j0, int kk) {
    typedef typename TsAcc<T>::type A;
    const A* partial = (const A*) partial_v;
    TS_GRID_LOOP(e, (long long) (kk + 1) * ch) {
        int j = (int) (e / ch), c = (int) (e - (long long) j * ch);
        A sum = (A) 0;
        for (int q = 0; q < parts; ++q) sum += partial[((long long) q * (kk + 1) + j) * ch + c];
        if (j < kk) {
            if (dw != nullptr) ts_store<A>(dw, dwcode, (long long) c * k + j0 + j, sum);
        } else if (db != nullptr && j0 == 0) {
            ts_store<A>(db, dbcode, c, sum);
        }
    }
}
TS_FLOAT_ENTRIES(conv1d_backward_dw_finish,
                 (const void* partial, int parts, void* dw, int dwcode, void* db, int dbcode, int ch, int k, int j0, int kk),
                 (partial, parts, dw, dwcode, db, dbcode, ch, k, j0, kk))
