// A few rows of F32 inputs times a weight kept in BF16, the F32 result: y[i, j] = Σ_p x[i, p] · w[j, p] for i < rows
// (at most LB_ROWS), j < n, with w [n, k] row-major (a linear layer's weight as it is stored; the product is x·Wᵀ).
// Decoding reads every weight once per step, so this is bound by reading w: half the bytes of an F32 weight, where
// cuBLAS would need the weight widened to F32 first (a full copy per call). The Java side is
// dev.tessera.runtime.cuda.CudaMatmul.bf16WeightRows; the CPU's twin is GemmF32Vector's BF16 dot products.
//
// One warp per column j: its lanes stride along k, each multiplying w's value (read once) into every row's running
// sum with fmaf, then the rows' sums are reduced across the warp in a fixed tree (ts_warp_sum). The order is fixed by
// the shape alone, so results repeat exactly; they match the CPU's to float rounding (the CPU sums in 16 lanes).
// x's rows are xRow elements apart (values contiguous); y is contiguous [rows, n].
#include "tessera.cuh"

#define LB_ROWS 8

extern "C" __global__ void linear_bf16_weight_rows(const float* __restrict__ x, long long xRow, const void* __restrict__ w,
                                                   float* __restrict__ y, int rows, int n, int k) {
    const __nv_bfloat16* wb = (const __nv_bfloat16*) w;
    int lane = threadIdx.x & 31;
    TS_WARP_LOOP(j, n) {
        float acc[LB_ROWS];
#pragma unroll
        for (int i = 0; i < LB_ROWS; ++i) acc[i] = 0.f;
        const __nv_bfloat16* row = wb + j * (long long) k;
        for (int p = lane; p < k; p += 32) {
            float v = __bfloat162float(row[p]);
#pragma unroll
            for (int i = 0; i < LB_ROWS; ++i) {
                if (i < rows) acc[i] = fmaf(x[i * xRow + p], v, acc[i]);
            }
        }
#pragma unroll
        for (int i = 0; i < LB_ROWS; ++i) {
            if (i < rows) {
                float s = ts_warp_sum(acc[i]);
                if (lane == 0) y[i * (long long) n + j] = s;
            }
        }
    }
}
