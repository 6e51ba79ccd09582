// Fused AdamW step (kernels/.../optim/AdamWStep.java has the math; AdamWStepReference.java is the float64 oracle):
// one thread per element over a grid-stride loop, reading w, g, m, v once and writing w, m, v once, in the
// accumulation type (float for F32, double for F64). Purely bandwidth-bound.
//
// adamw_multi updates up to ADAMW_BATCH parameters of one dtype in one launch (a small model's step is otherwise one
// launch per parameter, each too short to fill the GPU). Their addresses, lengths, first blocks and block counts in
// the launch, learning rates and decays come by value as the kernel's parameters (no upload, which would wait for
// the GPU); block b finds its tensor by binary search over the first blocks and runs the single-tensor loop as if
// launched alone with that tensor's blocks, so every element gets the same arithmetic, and the same bits.
#include "tessera.cuh"

template <typename T, typename A>
__device__ __forceinline__ void adamw_element(T* w, const T* g, T* m, T* v, long long i, A b1, A k1, A b2, A k2, A keep, A bc2,
                                              A e, A step) {
    A gi = ts_acc(g[i]);
    A mi = ts_acc(m[i]) * b1 + gi * k1;
    A vi = ts_acc(v[i]) * b2 + gi * k2 * gi;
    A wi = ts_acc(w[i]) * keep;
    m[i] = ts_from_acc<T>(mi);
    v[i] = ts_from_acc<T>(vi);
    w[i] = ts_from_acc<T>(wi + mi / (sqrt(vi / bc2) + e) * step);
}

template <typename T>
__device__ void adamw_step_impl(T* w, const T* g, T* m, T* v, long long n, double lr, double beta1, double beta2, double eps,
                                double decay, double c1, double c2) {
    typedef typename TsAcc<T>::type A;
    const A b1 = (A) beta1, k1 = (A) (1 - beta1), b2 = (A) beta2, k2 = (A) (1 - beta2);
    const A keep = (A) (1 - lr * decay), bc2 = (A) c2, e = (A) eps, step = (A) (-lr / c1);
    TS_GRID_LOOP(i, n) adamw_element<T, A>(w, g, m, v, i, b1, k1, b2, k2, keep, bc2, e, step);
}

TS_FLOAT_ENTRIES(adamw_step, (void* w, const void* g, void* m, void* v, long long n, double lr, double beta1, double beta2, double eps,
                              double decay, double c1, double c2),
                 ((T*) w, (const T*) g, (T*) m, (T*) v, n, lr, beta1, beta2, eps, decay, c1, c2))

// 48 tensors: 3,456 bytes, within the 4 KiB that a kernel's parameters may take.
#define ADAMW_BATCH 48
struct AdamwBatch {
    long long w[ADAMW_BATCH], g[ADAMW_BATCH], m[ADAMW_BATCH], v[ADAMW_BATCH], n[ADAMW_BATCH], first[ADAMW_BATCH], blocks[ADAMW_BATCH];
    double lr[ADAMW_BATCH], decay[ADAMW_BATCH];
};

template <typename T>
__device__ __forceinline__ void adamw_multi_impl(const AdamwBatch& t, int tensors, double beta1, double beta2, double eps, double c1,
                                                 double c2) {
    typedef typename TsAcc<T>::type A;
    int lo = 0, hi = tensors - 1;
    const long long b = blockIdx.x;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (t.first[mid] <= b) lo = mid; else hi = mid - 1;
    }
    T* w = (T*) t.w[lo];
    const T* g = (const T*) t.g[lo];
    T* m = (T*) t.m[lo];
    T* v = (T*) t.v[lo];
    const long long n = t.n[lo], blocks = t.blocks[lo];
    const double lr = t.lr[lo], decay = t.decay[lo];
    const A b1 = (A) beta1, k1 = (A) (1 - beta1), b2 = (A) beta2, k2 = (A) (1 - beta2);
    const A keep = (A) (1 - lr * decay), bc2 = (A) c2, e = (A) eps, step = (A) (-lr / c1);
    for (long long i = (b - t.first[lo]) * blockDim.x + threadIdx.x; i < n; i += blocks * blockDim.x) {
        adamw_element<T, A>(w, g, m, v, i, b1, k1, b2, k2, keep, bc2, e, step);
    }
}

TS_FLOAT_ENTRIES(adamw_multi, (AdamwBatch t, int tensors, double beta1, double beta2, double eps, double c1, double c2),
                 (t, tensors, beta1, beta2, eps, c1, c2))
