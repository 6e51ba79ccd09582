// Σ x² over a list of tensors in double, deterministically (kernels/.../optim/SquaredNorm.java has the contract):
// each tensor's blocks write their partial sums to their own slots of one buffer, then one block adds every slot in
// order. No atomics, so the same tensors on the same device give the same bits every time.
//
// Up to SQ_BATCH tensors of one dtype go in one launch, their addresses, lengths, first blocks and block counts by
// value as the kernel's parameters (no upload, which would wait for the GPU); block b finds its tensor by binary
// search over the first blocks, sums the tensor's elements as if that tensor had been launched alone with its
// blocks, and writes slot b.
#include "tessera.cuh"

// 64 tensors: 2,048 bytes of the 4 KiB that a kernel's parameters may take.
#define SQ_BATCH 64
struct SqBatch {
    long long x[SQ_BATCH], n[SQ_BATCH], first[SQ_BATCH], blocks[SQ_BATCH];
};

template <typename T>
__device__ __forceinline__ void sq_partials_impl(const SqBatch& t, int tensors, double* partials) {
    __shared__ double scratch[32];
    int lo = 0, hi = tensors - 1;
    const long long b = blockIdx.x;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (t.first[mid] <= b) lo = mid; else hi = mid - 1;
    }
    const T* x = (const T*) t.x[lo];
    const long long n = t.n[lo], first = t.first[lo], blocks = t.blocks[lo];
    double acc = 0;
    for (long long i = (b - first) * blockDim.x + threadIdx.x; i < n; i += blocks * blockDim.x) {
        double v = (double) ts_acc(x[i]);
        acc += v * v;
    }
    acc = ts_block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[b] = acc;
}

TS_FLOAT_ENTRIES(sq_partials, (SqBatch t, int tensors, double* partials), (t, tensors, partials))

extern "C" __global__ void sq_finish(const double* partials, long long count, double* out) {
    __shared__ double scratch[32];
    double acc = 0;
    for (long long i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
    acc = ts_block_sum(acc, scratch);
    if (threadIdx.x == 0) *out = acc;
}
