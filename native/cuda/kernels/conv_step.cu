// One decoding step of the depthwise causal convolution, fused with the advance of its state (kernels/.../conv/
// CausalConvStep.java has the math; CausalConvStepReference.java is the CPU reference). One thread per (row, channel):
// it sums that channel's taps over the state and the new input, in tap order from the bias with the roundings of the
// runtime's conv1d_forward (fmaf for float accumulation, a multiply and an add for double), so a step gives the
// parallel forward's bits; then it moves that channel's column of the state up by one. Columns are disjoint: no
// thread reads what another writes.
#include "tessera.cuh"

__device__ __forceinline__ float cs_fma(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double cs_fma(double a, double b, double c) { return __dadd_rn(__dmul_rn(a, b), c); }

template <typename T>
__device__ void causal_conv_step_impl(T* __restrict__ state, const T* __restrict__ x, long long xRow, const T* __restrict__ w,
                                      const T* __restrict__ bias, T* __restrict__ y, long long batch, int ch, int k) {
    typedef typename TsAcc<T>::type A;
    int taps = k - 1;
    TS_GRID_LOOP(e, batch * ch) {
        long long b = e / ch;
        int c = (int) (e - b * ch);
        T* s = state + b * taps * ch + c;
        A acc = bias == nullptr ? (A) 0 : ts_acc(bias[c]);
        for (int j = 0; j < taps; ++j) acc = cs_fma(ts_acc(w[(long long) c * k + j]), ts_acc(s[(long long) j * ch]), acc);
        T xv = x[b * xRow + c];
        acc = cs_fma(ts_acc(w[(long long) c * k + taps]), ts_acc(xv), acc);
        y[e] = ts_from_acc<T>(acc);
        for (int j = 0; j + 1 < taps; ++j) s[(long long) j * ch] = s[(long long) (j + 1) * ch];
        s[(long long) (taps - 1) * ch] = xv;
    }
}
TS_FLOAT_ENTRIES(causal_conv_step,
                 (void* state, const void* x, long long xRow, const void* w, const void* bias, void* y, long long batch, int ch, int k),
                 ((T*) state, (const T*) x, xRow, (const T*) w, (const T*) bias, (T*) y, batch, ch, k))
