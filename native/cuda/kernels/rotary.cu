// Fused rotary position embedding (GPT-NeoX halves) and its backward, the inverse rotation (sign = -1). The CPU
// reference is kernels/.../rotary/RotaryReference.java; the math is in Rotary.java. One thread per element of the
// contiguous [rows, P] output over a grid-stride loop: bandwidth-bound (read P plus two table values, write P).
#include "tessera.cuh"

template <typename T>
__device__ void rotary_impl(const T* src, T* dst, const typename TsAcc<T>::type* cosv, const typename TsAcc<T>::type* sinv,
                            long long rows, long long l, long long p, long long half, int sign) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(i, rows * p) {
        long long r = i / p, c = i - r * p;
        if (c >= 2 * half) {
            dst[i] = src[i];
            continue;
        }
        long long j = c < half ? c : c - half, t = (r % l) * half + j;
        A cs = cosv[t], sn = (A) sign * sinv[t];
        A x1 = ts_acc(src[r * p + j]), x2 = ts_acc(src[r * p + half + j]);
        dst[i] = ts_from_acc<T>(c < half ? x1 * cs - x2 * sn : x2 * cs + x1 * sn);
    }
}

TS_FLOAT_ENTRIES(rotary, (const void* src, void* dst, const void* cosv, const void* sinv, long long rows, long long l, long long p,
                          long long half, int sign),
                 ((const T*) src, (T*) dst, (const typename TsAcc<T>::type*) cosv, (const typename TsAcc<T>::type*) sinv, rows, l, p,
                  half, sign))
