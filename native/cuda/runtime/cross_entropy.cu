// Fused cross entropy over rows of logits [rows, C] with int64 targets: the per-row loss lse(x) − x[t] (0 for rows whose
// target is the ignore index) and the row's logsumexp, saved for the backward, whose gradient is
// g_r · (softmax(x)_c − [c = t_r]). One warp per row, eight rows per block; the row is read twice in the forward
// (max, then the sum of exponentials, both in cache for the vocabulary sizes of byte models) and once in the backward.
// Targets were validated on the host. Launched by dev.tessera.runtime.cuda.CudaCrossEntropy.
#include "tessera.cuh"

template <typename T>
__device__ void cross_entropy_forward_impl(const T* x, const long long* targets, long long rows, int c, long long ignore,
                                           typename TsAcc<T>::type* loss, typename TsAcc<T>::type* lse) {
    typedef typename TsAcc<T>::type A;
    int lane = threadIdx.x & 31;
    TS_WARP_LOOP(r, rows) {
        const T* row = x + r * c;
        A m = -INFINITY;
        for (int j = lane; j < c; j += 32) m = fmax(m, ts_acc(row[j]));
        m = ts_warp_max(m);
        A s = 0;
        // A row of -inf (or NaN) keeps m non-finite; subtracting it would give NaN for every term.
        A shift = isfinite(m) ? m : (A) 0;
        for (int j = lane; j < c; j += 32) s += exp(ts_acc(row[j]) - shift);
        s = ts_warp_sum(s);
        if (lane == 0) {
            A l = log(s) + shift;
            long long t = targets[r];
            lse[r] = l;
            loss[r] = t == ignore ? (A) 0 : l - ts_acc(row[t]);
        }
    }
}

template <typename T>
__device__ void cross_entropy_backward_impl(const T* x, const long long* targets, const typename TsAcc<T>::type* lse,
                                            const typename TsAcc<T>::type* g, long long rows, int c, long long ignore, T* dx) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(i, rows * (long long) c) {
        long long r = i / c;
        int j = (int) (i - r * c);
        long long t = targets[r];
        A d = 0;
        if (t != ignore) d = g[r] * (exp(ts_acc(x[i]) - lse[r]) - (j == t ? (A) 1 : (A) 0));
        dx[i] = ts_from_acc<T>(d);
    }
}

TS_FLOAT_ENTRIES(cross_entropy_forward,
                 (const void* x, const long long* targets, long long rows, int c, long long ignore, void* loss, void* lse),
                 ((const T*) x, targets, rows, c, ignore, (typename TsAcc<T>::type*) loss, (typename TsAcc<T>::type*) lse))
TS_FLOAT_ENTRIES(cross_entropy_backward,
                 (const void* x, const long long* targets, const void* lse, const void* g, long long rows, int c, long long ignore, void* dx),
                 ((const T*) x, targets, (const typename TsAcc<T>::type*) lse, (const typename TsAcc<T>::type*) g, rows, c, ignore, (T*) dx))
