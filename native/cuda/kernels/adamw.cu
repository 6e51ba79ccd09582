// Fused AdamW step (kernels/.../optim/AdamWStep.java has the math; AdamWStepReference.java is the float64 oracle):
// one thread per element over a grid-stride loop, reading w, g, m, v once and writing w, m, v once, in the
// accumulation type (float for F32, double for F64). Purely bandwidth-bound.
#include "tessera.cuh"

template <typename T>
__device__ void adamw_step_impl(T* w, const T* g, T* m, T* v, long long n, double lr, double beta1, double beta2, double eps,
                                double decay, double c1, double c2) {
    typedef typename TsAcc<T>::type A;
    const A b1 = (A) beta1, k1 = (A) (1 - beta1), b2 = (A) beta2, k2 = (A) (1 - beta2);
    const A keep = (A) (1 - lr * decay), bc2 = (A) c2, e = (A) eps, step = (A) (-lr / c1);
    TS_GRID_LOOP(i, n) {
        A gi = ts_acc(g[i]);
        A mi = ts_acc(m[i]) * b1 + gi * k1;
        A vi = ts_acc(v[i]) * b2 + gi * k2 * gi;
        A wi = ts_acc(w[i]) * keep;
        m[i] = ts_from_acc<T>(mi);
        v[i] = ts_from_acc<T>(vi);
        w[i] = ts_from_acc<T>(wi + mi / (sqrt(vi / bc2) + e) * step);
    }
}

TS_FLOAT_ENTRIES(adamw_step, (void* w, const void* g, void* m, void* v, long long n, double lr, double beta1, double beta2, double eps,
                              double decay, double c1, double c2),
                 ((T*) w, (const T*) g, (T*) m, (T*) v, n, lr, beta1, beta2, eps, decay, c1, c2))
