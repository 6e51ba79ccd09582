// Fused SwiGLU, the worked example of "Adding a kernel" (README): y = u · SiLU(g) for x = [u | g] along the last
// dim, and its backward. The CPU reference is kernels/.../swiglu/SwiGluReference.java; the math is in SwiGlu.java.
// One thread per output element over a grid-stride loop: the kernel is purely bandwidth-bound (read 2F, write F).
#include "tessera.cuh"

template <typename T>
__device__ void swiglu_forward_impl(const T* x, T* y, long long rows, long long f) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(i, rows * f) {
        long long r = i / f, c = i - r * f;
        A u = ts_acc(x[r * 2 * f + c]), g = ts_acc(x[r * 2 * f + f + c]);
        A sig = (A) 1 / ((A) 1 + exp(-g));
        y[i] = ts_from_acc<T>(u * g * sig);
    }
}

template <typename T>
__device__ void swiglu_backward_impl(const T* x, const T* dy, T* dx, long long rows, long long f) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(i, rows * f) {
        long long r = i / f, c = i - r * f;
        long long ui = r * 2 * f + c, gi = ui + f;
        A u = ts_acc(x[ui]), g = ts_acc(x[gi]), d = ts_acc(dy[i]);
        A sig = (A) 1 / ((A) 1 + exp(-g));
        dx[ui] = ts_from_acc<T>(d * g * sig);
        dx[gi] = ts_from_acc<T>(d * u * sig * ((A) 1 + g * ((A) 1 - sig)));
    }
}

TS_FLOAT_ENTRIES(swiglu_forward, (const void* x, void* y, long long rows, long long f), ((const T*) x, (T*) y, rows, f))
TS_FLOAT_ENTRIES(swiglu_backward, (const void* x, const void* dy, void* dx, long long rows, long long f),
                 ((const T*) x, (const T*) dy, (T*) dx, rows, f))
