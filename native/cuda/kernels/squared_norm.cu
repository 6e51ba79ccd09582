// Σ x² over a list of tensors in double, deterministically (kernels/.../optim/SquaredNorm.java has the contract):
// each tensor's blocks write their partial sums to their own slots of one buffer, then one block adds every slot in
// order. No atomics, so the same tensors on the same device give the same bits every time.
//
// All the tensors of one dtype go in one launch: a table of four 64-bit words per tensor (address, length, first
// block, block count); block b finds its tensor by binary search over the first blocks, sums the tensor's elements as
// if that tensor had been launched alone with its blocks, and writes slot b.
#include "tessera.cuh"

template <typename T>
__device__ void sq_partials_impl(const long long* __restrict__ table, int tensors, double* partials) {
    __shared__ double scratch[32];
    int lo = 0, hi = tensors - 1;
    const long long b = blockIdx.x;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (table[(long long) mid * 4 + 2] <= b) lo = mid; else hi = mid - 1;
    }
    const T* x = (const T*) table[(long long) lo * 4];
    const long long n = table[(long long) lo * 4 + 1], first = table[(long long) lo * 4 + 2], blocks = table[(long long) lo * 4 + 3];
    double acc = 0;
    for (long long i = (b - first) * blockDim.x + threadIdx.x; i < n; i += blocks * blockDim.x) {
        double v = (double) ts_acc(x[i]);
        acc += v * v;
    }
    acc = ts_block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[b] = acc;
}

TS_FLOAT_ENTRIES(sq_partials, (const long long* table, int tensors, double* partials), (table, tensors, partials))

extern "C" __global__ void sq_finish(const double* partials, long long count, double* out) {
    __shared__ double scratch[32];
    double acc = 0;
    for (long long i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    acc = ts_block_sum(acc, scratch);
    if (threadIdx.x == 0) *out = acc;
}
