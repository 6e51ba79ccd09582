// Σ x² over a list of tensors in double, deterministically (kernels/.../optim/SquaredNorm.java has the contract):
// each tensor's blocks write their partial sums to their own slots of one buffer, then one block adds every slot in
// order. No atomics, so the same tensors on the same device give the same bits every time.
#include "tessera.cuh"

template <typename T>
__device__ void sq_partials_impl(const T* x, long long n, double* partials) {
    __shared__ double scratch[32];
    double acc = 0;
    TS_GRID_LOOP(i, n) {
        double v = (double) ts_acc(x[i]);
        acc += v * v;
    }
    acc = ts_block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

TS_FLOAT_ENTRIES(sq_partials, (const void* x, long long n, double* partials), ((const T*) x, n, partials))

extern "C" __global__ void sq_finish(const double* partials, long long count, double* out) {
    __shared__ double scratch[32];
    double acc = 0;
    for (long long i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    acc = ts_block_sum(acc, scratch);
    if (threadIdx.x == 0) *out = acc;
}
