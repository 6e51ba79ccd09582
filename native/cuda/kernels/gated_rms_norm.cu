// Mamba-2's gated RMSNorm, fused: y = h · rstd · w with h = x · SiLU(z) and rstd = 1/sqrt(mean(h²) + eps) over each
// row of width d, and its backward. The math and the CPU reference are in kernels/.../norm/GatedRmsNorm*.java.
// x, y and dx are contiguous [rows, d]; z and dz are rows of d values a row stride apart (z is usually a slice of the
// layer's input projection, read and its gradient written where they lie). rstd is kept per row in double.
// One warp per row for the row passes; the weight's gradient is summed over fixed chunks of rows, then the chunks in
// order, so it does not depend on the grid.
#include "tessera.cuh"

template <typename A> __device__ __forceinline__ A ts_sigmoid(A v) { return (A) 1 / ((A) 1 + exp(-v)); }

// h = x · SiLU(z)
template <typename A> __device__ __forceinline__ A gated(A x, A z) { return x * z * ts_sigmoid(z); }

template <typename T>
__device__ void gated_rms_norm_forward_impl(const T* x, const T* z, long long z_stride, const T* w, T* y, double* rstd,
                                            long long rows, int d, double eps) {
    typedef typename TsAcc<T>::type A;
    int lane = threadIdx.x & 31;
    TS_WARP_LOOP(r, rows) {
        const T* xr = x + r * d;
        const T* zr = z + r * z_stride;
        A ss = 0;
        for (int j = lane; j < d; j += 32) {
            A h = gated(ts_acc(xr[j]), ts_acc(zr[j]));
            ss += h * h;
        }
        ss = ts_warp_sum(ss);
        double rs = 1.0 / sqrt((double) ss / d + eps);
        if (lane == 0) rstd[r] = rs;
        A rsa = (A) rs;
        for (int j = lane; j < d; j += 32) y[r * d + j] = ts_from_acc<T>(gated(ts_acc(xr[j]), ts_acc(zr[j])) * rsa * ts_acc(w[j]));
    }
}

// dh = rstd·(dy·w) − h·rstd³·mean(dy·w·h); dx = dh·SiLU(z); dz = dh·x·σ(z)·(1 + z·(1 − σ(z))).
template <typename T>
__device__ void gated_rms_norm_backward_impl(const T* x, const T* z, long long z_stride, const T* w, const T* dy,
                                             const double* rstd, T* dx, T* dz, long long dz_stride, long long rows, int d) {
    typedef typename TsAcc<T>::type A;
    int lane = threadIdx.x & 31;
    TS_WARP_LOOP(r, rows) {
        const T* xr = x + r * d;
        const T* zr = z + r * z_stride;
        const T* gr = dy + r * d;
        A dot = 0;
        for (int j = lane; j < d; j += 32) dot += ts_acc(gr[j]) * ts_acc(w[j]) * gated(ts_acc(xr[j]), ts_acc(zr[j]));
        dot = ts_warp_sum(dot);
        double rs = rstd[r];
        A rsa = (A) rs, c = (A) (rs * rs * rs * (double) dot / d);
        for (int j = lane; j < d; j += 32) {
            A zv = ts_acc(zr[j]), xv = ts_acc(xr[j]);
            A sg = ts_sigmoid(zv), s = zv * sg;
            A dh = rsa * ts_acc(gr[j]) * ts_acc(w[j]) - xv * s * c;
            dx[r * d + j] = ts_from_acc<T>(dh * s);
            dz[r * dz_stride + j] = ts_from_acc<T>(dh * xv * sg * ((A) 1 + zv * ((A) 1 - sg)));
        }
    }
}

// partial[k, j] = Σ over rows [k·chunk, (k+1)·chunk) of dy·h·rstd, one thread per (column, chunk), rows in order.
template <typename T>
__device__ void gated_rms_norm_weight_partial_impl(const T* x, const T* z, long long z_stride, const T* dy, const double* rstd,
                                                   typename TsAcc<T>::type* partial, long long rows, int d, int chunk) {
    typedef typename TsAcc<T>::type A;
    long long chunks = (rows + chunk - 1) / chunk;
    TS_GRID_LOOP(i, chunks * (long long) d) {
        long long k = i / d;
        int j = (int) (i - k * d);
        long long r0 = k * chunk, r1 = min(rows, r0 + chunk);
        A acc = 0;
        for (long long r = r0; r < r1; r++) acc += ts_acc(dy[r * d + j]) * gated(ts_acc(x[r * d + j]), ts_acc(z[r * z_stride + j])) * (A) rstd[r];
        partial[i] = acc;
    }
}

// dw[j] = Σ_k partial[k, j] in order of k.
template <typename T>
__device__ void gated_rms_norm_weight_sum_impl(const typename TsAcc<T>::type* partial, T* dw, long long chunks, int d) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(j, (long long) d) {
        A acc = 0;
        for (long long k = 0; k < chunks; k++) acc += partial[k * d + j];
        dw[j] = ts_from_acc<T>(acc);
    }
}

TS_FLOAT_ENTRIES(gated_rms_norm_forward,
                 (const void* x, const void* z, long long z_stride, const void* w, void* y, double* rstd, long long rows, int d, double eps),
                 ((const T*) x, (const T*) z, z_stride, (const T*) w, (T*) y, rstd, rows, d, eps))
TS_FLOAT_ENTRIES(gated_rms_norm_backward,
                 (const void* x, const void* z, long long z_stride, const void* w, const void* dy, const double* rstd, void* dx,
                  void* dz, long long dz_stride, long long rows, int d),
                 ((const T*) x, (const T*) z, z_stride, (const T*) w, (const T*) dy, rstd, (T*) dx, (T*) dz, dz_stride, rows, d))
TS_FLOAT_ENTRIES(gated_rms_norm_weight_partial,
                 (const void* x, const void* z, long long z_stride, const void* dy, const double* rstd, void* partial, long long rows,
                  int d, int chunk),
                 ((const T*) x, (const T*) z, z_stride, (const T*) dy, rstd, (typename TsAcc<T>::type*) partial, rows, d, chunk))
TS_FLOAT_ENTRIES(gated_rms_norm_weight_sum, (const void* partial, void* dw, long long chunks, int d),
                 ((const typename TsAcc<T>::type*) partial, (T*) dw, chunks, d))
