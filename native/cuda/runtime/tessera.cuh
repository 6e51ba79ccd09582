// Shared definitions of Tessera's runtime kernels: dtype codes, element loads and stores, strided layouts.
// Every kernel that a Java class launches is extern "C" and named <op>_<dtype>; the Java side
// (dev.tessera.runtime.cuda) mirrors the codes and the struct layout below byte for byte.
#pragma once
#ifdef TESSERA_CUDA_EMULATION
#include "cuda_emulation.h" // the host build that runs these kernels on the CPU (native/emulation)
// Dynamic shared memory: the block's buffer of the launch's size.
#define TS_DYNAMIC_SHARED(align, name) unsigned char* name = ::tessera_emu::dynamic_shared()
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#define TS_DYNAMIC_SHARED(align, name) extern __shared__ __align__(align) unsigned char name[]
#endif

// DType codes: the ordinal of dev.tessera.runtime.DType.
enum TsDtype { TS_F32 = 0, TS_F64 = 1, TS_BF16 = 2, TS_F16 = 3, TS_I32 = 4, TS_I64 = 5, TS_U8 = 6, TS_BOOL = 7 };

// The most dimensions a strided kernel walks; the Java side merges contiguous dims first and refuses more.
#define TS_MAX_DIMS 8

// A view's shape and element strides, passed by value (Java: CudaLayout.encode, 8 + 16·TS_MAX_DIMS bytes).
struct TsLayout {
    int ndim;
    int pad_;
    long long shape[TS_MAX_DIMS];
    long long stride[TS_MAX_DIMS];
};

// Loads element i of a buffer of any dtype as Acc (float or double); integer types convert exactly
// as far as Acc allows, the same as the CPU's conversions.
template <typename Acc>
__device__ __forceinline__ Acc ts_load(const void* p, int dtype, long long i) {
    switch (dtype) {
        case TS_F32: return (Acc) ((const float*) p)[i];
        case TS_F64: return (Acc) ((const double*) p)[i];
        case TS_BF16: return (Acc) __bfloat162float(((const __nv_bfloat16*) p)[i]);
        case TS_F16: return (Acc) __half2float(((const __half*) p)[i]);
        case TS_I32: return (Acc) ((const int*) p)[i];
        case TS_I64: return (Acc) ((const long long*) p)[i];
        case TS_U8: return (Acc) ((const unsigned char*) p)[i];
        default: return (Acc) (((const unsigned char*) p)[i] != 0);
    }
}

// Float → integer toward zero, saturating, NaN → 0: what PTX's cvt.rzi gives a plain cast on the GPU (and Java's
// (int) / (long) casts); a host compiler's cast is undefined out of range, so the emulator spells it out.
#ifdef TESSERA_CUDA_EMULATION
template <typename I, typename F> inline I ts_trunc(F v) {
    if (v != v) return 0;
    if (v >= (F) std::numeric_limits<I>::max()) return std::numeric_limits<I>::max();
    if (v <= (F) std::numeric_limits<I>::min()) return std::numeric_limits<I>::min();
    return (I) v;
}
#else
template <typename I, typename F> __device__ __forceinline__ I ts_trunc(F v) { return (I) v; }
#endif

// Stores v as element i; float → integer truncates toward zero like Java's (long) cast, NaN → 0, BOOL is v != 0.
template <typename Acc>
__device__ __forceinline__ void ts_store(void* p, int dtype, long long i, Acc v) {
    switch (dtype) {
        case TS_F32: ((float*) p)[i] = (float) v; break;
        case TS_F64: ((double*) p)[i] = (double) v; break;
        case TS_BF16: ((__nv_bfloat16*) p)[i] = __float2bfloat16_rn((float) v); break;
        case TS_F16: ((__half*) p)[i] = __float2half_rn((float) v); break;
        case TS_I32: ((int*) p)[i] = v != v ? 0 : ts_trunc<int>(v); break;
        case TS_I64: ((long long*) p)[i] = v != v ? 0 : ts_trunc<long long>(v); break;
        case TS_U8: ((unsigned char*) p)[i] = (unsigned char) (v != v ? 0 : ts_trunc<int>(v)); break;
        default: ((unsigned char*) p)[i] = v != (Acc) 0 ? 1 : 0; break;
    }
}

// Typed element access for kernels specialised per dtype (T = float, double, __nv_bfloat16, __half).
template <typename T> __device__ __forceinline__ float ts_to_float(T v) { return (float) v; }
template <> __device__ __forceinline__ float ts_to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float ts_to_float<__half>(__half v) { return __half2float(v); }
// The natural value of an element: float for the 16/32-bit floats, double for F64, long long for the integers.
__device__ __forceinline__ float ts_nat(float v) { return v; }
__device__ __forceinline__ double ts_nat(double v) { return v; }
__device__ __forceinline__ float ts_nat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float ts_nat(__half v) { return __half2float(v); }
__device__ __forceinline__ long long ts_nat(int v) { return v; }
__device__ __forceinline__ long long ts_nat(long long v) { return v; }

template <typename T> __device__ __forceinline__ T ts_from_float(float v) { return (T) v; }
template <> __device__ __forceinline__ __nv_bfloat16 ts_from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half ts_from_float<__half>(float v) { return __float2half_rn(v); }

// The accumulation type of a storage type: double for double, float otherwise; ts_acc / ts_from_acc convert.
template <typename T> struct TsAcc { typedef float type; };
template <> struct TsAcc<double> { typedef double type; };
template <typename T> __device__ __forceinline__ typename TsAcc<T>::type ts_acc(T v) { return ts_to_float(v); }
template <> __device__ __forceinline__ double ts_acc<double>(double v) { return v; }
template <typename T> __device__ __forceinline__ T ts_from_acc(typename TsAcc<T>::type v) { return ts_from_float<T>(v); }
template <> __device__ __forceinline__ double ts_from_acc<double>(double v) { return v; }

// Grid-stride loop over [0, n) with 64-bit indices.
#define TS_GRID_LOOP(i, n) \
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long) gridDim.x * blockDim.x)

// Grid-stride loop over [0, n) with one item per warp: the 32 lanes of a warp share r (rows reduced with ts_warp_*).
#define TS_WARP_LOOP(r, n) \
    for (long long r = ((long long) blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < (n); r += ((long long) gridDim.x * blockDim.x) >> 5)

// Warp and block reductions (block size a multiple of 32, at most 1024).
template <typename A> __device__ __forceinline__ A ts_warp_sum(A v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <typename A> __device__ __forceinline__ A ts_warp_max(A v) {
    for (int o = 16; o > 0; o >>= 1) { A w = __shfl_xor_sync(0xffffffffu, v, o); v = w > v || w != w ? w : v; }
    return v;
}
// Sum over the block; every thread gets the result. `scratch` holds 32 values; callers reusing it must
// __syncthreads() between calls (done here at entry).
template <typename A> __device__ A ts_block_sum(A v, A* scratch) {
    __syncthreads();
    v = ts_warp_sum(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : (A) 0;
    return ts_warp_sum(v);
}
template <typename A> __device__ A ts_block_max(A v, A* scratch, A lowest) {
    __syncthreads();
    v = ts_warp_max(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : lowest;
    return ts_warp_max(v);
}

// Instantiates a templated device function `name##_impl<T>` as extern "C" kernels name_f32, name_f64, name_bf16 and
// name_f16. Inside `args`, T names the storage type, so pointers passed as void* are cast with (T*).
#define TS_FLOAT_ENTRIES(name, params, args)                                                            \
    extern "C" __global__ void name##_f32 params { typedef float T; name##_impl<T> args; }            \
    extern "C" __global__ void name##_f64 params { typedef double T; name##_impl<T> args; }           \
    extern "C" __global__ void name##_bf16 params { typedef __nv_bfloat16 T; name##_impl<T> args; }   \
    extern "C" __global__ void name##_f16 params { typedef __half T; name##_impl<T> args; }

// Converts a double to a storage type the way the CPU's Elements.set does: F32 and F64 round once, BF16 and F16
// go through float first (two roundings, like Java's (float) cast followed by the half conversion).
template <typename T> __device__ __forceinline__ T ts_from_double(double v) { return ts_from_float<T>((float) v); }
template <> __device__ __forceinline__ double ts_from_double<double>(double v) { return v; }
// Integers: Java's (long) / (int) cast semantics (NaN → 0, saturation), which PTX's cvt.rzi gives.
template <> __device__ __forceinline__ long long ts_from_double<long long>(double v) { return v != v ? 0 : ts_trunc<long long>(v); }
template <> __device__ __forceinline__ int ts_from_double<int>(double v) { return v != v ? 0 : ts_trunc<int>(v); }
