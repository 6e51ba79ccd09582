// Kernels that exercise the emulator itself (KernelEmulatorTest): warp shuffles, block reductions over several
// warps, the tensor-core fragment layouts, the 16-bit conversions, and the misuses it must stop with a message.
// Built only for the emulator, never to PTX.
#include "tessera.cuh"

// out[4t..4t+3] = lane sources of xor 5, up 3, down 3 and a width-16 broadcast of lane 7, for 64 threads.
extern "C" __global__ void emu_shuffles(int* out) {
    int t = threadIdx.x;
    out[4 * t + 0] = __shfl_xor_sync(0xffffffffu, t, 5);
    out[4 * t + 1] = __shfl_up_sync(0xffffffffu, t, 3);
    out[4 * t + 2] = __shfl_down_sync(0xffffffffu, t, 3);
    out[4 * t + 3] = __shfl_sync(0xffffffffu, t, 7, 16);
}

// out[block] = the sum of x[block·n .. block·n + n) by a block of several warps.
extern "C" __global__ void emu_block_sum(const double* x, double* out, int n) {
    __shared__ double scratch[32];
    double v = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) v += x[(long long) blockIdx.x * n + i];
    v = ts_block_sum(v, scratch);
    if (threadIdx.x == 0) out[blockIdx.x] = v;
}

// One warp: d (16×8, row-major) = a (16×16, row-major) · b (16×8), with b given row-major (transB = 0, loaded with
// ldmatrix.trans) or as its transpose, 8×16 row-major (transB = 1, loaded with ldmatrix).
extern "C" __global__ void emu_mma(const __nv_bfloat16* a, const __nv_bfloat16* b, float* d, int transB) {
    __shared__ uint4 as_raw[16 * 16 / 8], bs_raw[16 * 8 / 8]; // ldmatrix reads 16-byte aligned rows
    __nv_bfloat16* as = reinterpret_cast<__nv_bfloat16*>(as_raw);
    __nv_bfloat16* bs = reinterpret_cast<__nv_bfloat16*>(bs_raw);
    int l = threadIdx.x;
    for (int i = l; i < 256; i += 32) as[i] = a[i];
    for (int i = l; i < 128; i += 32) bs[i] = b[i];
    __syncwarp();
    unsigned fa[4], fb[4];
    ::tessera_emu::ldmatrix_x4(fa, as + (l % 16) * 16 + (l / 16) * 8, false);
    if (transB) {
        ::tessera_emu::ldmatrix_x4(fb, bs + (l % 8) * 16 + ((l / 8) % 2) * 8, false);
    } else {
        ::tessera_emu::ldmatrix_x4(fb, bs + (l % 16) * 8, true);
    }
    float acc[4] = {0, 0, 0, 0};
    ::tessera_emu::mma_m16n8k16_bf16(acc, fa, fb[0], fb[1]);
    int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; i++) d[(g + (i >= 2 ? 8 : 0)) * 8 + 2 * t + (i & 1)] = acc[i];
}

// The 16-bit conversions, element by element.
extern "C" __global__ void emu_conversions(const float* x, unsigned short* half, unsigned short* bf16, float* back, int n) {
    TS_GRID_LOOP(i, n) {
        __half h = __float2half_rn(x[i]);
        half[i] = __half_as_ushort(h);
        bf16[i] = __bfloat16_as_ushort(__float2bfloat16_rn(x[i]));
        back[i] = __half2float(h);
    }
}

// Float → integer stores saturate and send NaN to 0, as on the GPU.
extern "C" __global__ void emu_truncation(const float* x, int* i32, long long* i64, int n) {
    TS_GRID_LOOP(i, n) {
        ts_store<float>(i32, TS_I32, i, x[i]);
        ts_store<float>(i64, TS_I64, i, x[i]);
    }
}

// Misuses. Half the block waits at one barrier, half at another.
extern "C" __global__ void emu_divergent_barrier(int* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

// Half a warp shuffles while the other half waits at a block barrier: neither can finish.
extern "C" __global__ void emu_deadlock(int* out) {
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int) threadIdx.x, 1);
    else __syncthreads();
}

// A full-mask shuffle after half the warp has returned.
extern "C" __global__ void emu_exited_lane(int* out) {
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (int) threadIdx.x, 1);
}

// A race: thread t reads what thread t + 1 writes, with no barrier between. Blocks run their threads in alternating
// orders, so two blocks disagree.
extern "C" __global__ void emu_race(int* out) {
    __shared__ int s[64];
    int t = threadIdx.x;
    s[t] = t + 1;
    out[blockIdx.x * 64 + t] = s[(t + 1) % 64];
}

// Misaligned accesses, each at `offset` bytes past an aligned buffer (0: aligned, runs). kind 0: a 16-byte vector
// load; 1: a float store; 2: ldmatrix's row address in shared memory.
extern "C" __global__ void emu_misaligned(const unsigned char* in, float* out, int offset, int kind) {
    __shared__ uint4 raw[(16 * 16 + 8) / 8]; // uint4: 16-byte aligned
    __nv_bfloat16* tile = reinterpret_cast<__nv_bfloat16*>(raw);
    for (int i = threadIdx.x; i < 16 * 16 + 8; i += blockDim.x) tile[i] = __float2bfloat16_rn(0.0f);
    __syncthreads();
    if (kind == 0) {
        uint4 v = *reinterpret_cast<const uint4*>(in + offset);
        out[threadIdx.x] = (float) v.x;
    } else if (kind == 1) {
        *reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(out) + offset) = 1.0f;
    } else {
        unsigned r[4];
        ::tessera_emu::ldmatrix_x4(r, reinterpret_cast<unsigned char*>(tile + (threadIdx.x % 16) * 16) + offset, false);
        out[threadIdx.x] = (float) r[0];
    }
}

// An index past a shared array's end (i = 64 for the last thread when `past` is 1).
extern "C" __global__ void emu_out_of_bounds(int* out, int past) {
    __shared__ int s[64];
    s[threadIdx.x] = (int) threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x + past) % (64 + past)];
}
