// The part of the CUDA device language that Tessera's kernels use, for a host C++ compiler: with this header the
// .cu files under native/cuda compile with g++ into a library that runs each block's threads as cooperative fibers
// on the CPU (emulator.cpp). It exists to check the kernels' logic (indexing, shared memory, barriers, warp
// shuffles, tensor-core fragment layouts) against the CPU backend on machines without a GPU; it says nothing
// about speed. A block's threads never run at the same moment; alternate blocks run them in opposite orders, so a read
// that races a write without a barrier shows as blocks that disagree (blocks run on several OS threads at once).
//
// Semantics follow the CUDA C++ Programming Guide and the PTX ISA; where those leave behaviour undefined
// (a __syncthreads() reached by only part of a block, a shuffle whose mask names a lane that has exited), the
// emulator stops the launch with a message instead of guessing.
#pragma once

#define TESSERA_CUDA_EMULATION 1

#include <cmath>
#include <math.h>
#include <stdint.h>
#include <cstring>
#include <limits>
#include <cstdio>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Static shared memory: one copy per OS thread, and the emulator runs a block's fibers on one OS thread.
#define __shared__ static thread_local
#define __align__(n) alignas(n)

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

// Vector types with CUDA's sizes and alignments (16-byte loads and stores).
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(8) float2 { float x, y; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(8) int2 { int x, y; };
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }

// The core library's entry points (emulator.cpp); the kernels' libraries are built with hidden visibility.
#define TS_EMU_API __attribute__((visibility("default")))

namespace tessera_emu {
struct Fiber {
    dim3 tid;
    int linear; // x + y·bx + z·bx·by
};
TS_EMU_API extern thread_local Fiber* current;
TS_EMU_API extern thread_local dim3 block_idx, block_dim, grid_dim;

TS_EMU_API unsigned char* dynamic_shared();
TS_EMU_API void syncthreads(const char* file, int line);
// Waits until every lane of `mask` in the calling lane's warp has arrived (a warp-wide barrier).
TS_EMU_API void syncwarp(unsigned mask, const char* what);
// The 64-bit slot a lane publishes for warp-collective operations.
TS_EMU_API uint64_t* warp_slots();
TS_EMU_API int lane_id();
// Warp-collective matrix operations of the tensor-core path (emulator.cpp, per the PTX ISA's fragment layouts).
TS_EMU_API void ldmatrix_x4(unsigned* r, const void* row_address, bool transpose);
TS_EMU_API void mma_m16n8k16_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1);
TS_EMU_API void fail(const char* message);
// Stops the launch as a GPU would (CUDA_ERROR_MISALIGNED_ADDRESS) when `p` is not `alignment`-byte aligned. Plain
// loads and stores of the kernels are checked by the compiler (-fsanitize=alignment, whose handler is in
// emulator.cpp); this is for what the emulation does in their stead (cp.async, ldmatrix).
TS_EMU_API void fail_misaligned(const void* p, int alignment, const char* what);
inline void require_aligned(const void* p, int alignment, const char* what) {
    if ((uintptr_t) p & (uintptr_t) (alignment - 1)) fail_misaligned(p, alignment, what);
}

template <typename T> inline uint64_t to_slot(T v) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    uint64_t s = 0;
    std::memcpy(&s, &v, sizeof(T));
    return s;
}
template <typename T> inline T from_slot(uint64_t s) {
    T v;
    std::memcpy(&v, &s, sizeof(T));
    return v;
}
// The shuffle protocol: publish, wait for the mask, read the source lane's slot, wait again so that no lane
// publishes its next value before every lane has read this one.
template <typename T> inline T shuffle(unsigned mask, T v, int src, const char* what) {
    uint64_t* slots = warp_slots();
    slots[lane_id()] = to_slot(v);
    syncwarp(mask, what);
    T r = from_slot<T>(slots[src]);
    syncwarp(mask, what);
    return r;
}
} // namespace tessera_emu

#define threadIdx (::tessera_emu::current->tid)
#define blockIdx (::tessera_emu::block_idx)
#define blockDim (::tessera_emu::block_dim)
#define gridDim (::tessera_emu::grid_dim)
#define warpSize 32

#define __syncthreads() ::tessera_emu::syncthreads(__FILE__, __LINE__)
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::tessera_emu::syncwarp(mask, "__syncwarp"); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// A segment of `width` lanes (a power of two ≤ 32) starts at lane & ~(width − 1); sources outside it read the caller.
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
    int lane = ::tessera_emu::lane_id(), base = lane & ~(width - 1), src = lane ^ laneMask;
    if (src < base || src >= base + width) src = lane;
    return ::tessera_emu::shuffle(mask, v, src, "__shfl_xor_sync");
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    int lane = ::tessera_emu::lane_id(), base = lane & ~(width - 1), src = lane - (int) delta;
    if (src < base) src = lane;
    return ::tessera_emu::shuffle(mask, v, src, "__shfl_up_sync");
}
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    int lane = ::tessera_emu::lane_id(), base = lane & ~(width - 1), src = lane + (int) delta;
    if (src >= base + width) src = lane;
    return ::tessera_emu::shuffle(mask, v, src, "__shfl_down_sync");
}
template <typename T> inline T __shfl_sync(unsigned mask, T v, int srcLane, int width = 32) {
    int lane = ::tessera_emu::lane_id(), base = lane & ~(width - 1);
    return ::tessera_emu::shuffle(mask, v, base + (srcLane & (width - 1)), "__shfl_sync");
}

// Bit casts (used by the conversions below).
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
inline long long __double_as_longlong(double d) { long long i; std::memcpy(&i, &d, 8); return i; }

// ------------------------------------------------------------------------------------------- 16-bit float types
// Storage types with the conversions of cuda_fp16.h / cuda_bf16.h: float → 16 bits rounds to nearest even.
struct __half {
    uint16_t bits;
    __half() = default;
    inline __half(float f);
    inline operator float() const;
};
struct __nv_bfloat16 {
    uint16_t bits;
    __nv_bfloat16() = default;
    inline __nv_bfloat16(float f);
    inline operator float() const;
};
struct __nv_bfloat162 {
    __nv_bfloat16 x, y;
};

inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float((uint32_t) b.bits << 16); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u = __float_as_uint(f);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        b.bits = (uint16_t) ((u >> 16) | 0x40u); // NaN stays NaN (quiet)
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
        b.bits = (uint16_t) (u >> 16);
    }
    return b;
}
inline float __half2float(__half h) {
    uint32_t sign = (uint32_t) (h.bits & 0x8000u) << 16, exp = (h.bits >> 10) & 0x1fu, man = h.bits & 0x3ffu, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        u = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        u = sign;
    } else { // subnormal: normalise
        int e = -1;
        do { man <<= 1; e++; } while ((man & 0x400u) == 0);
        u = sign | ((uint32_t) (112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    return __uint_as_float(u);
}
inline __half __float2half_rn(float f) {
    uint32_t u = __float_as_uint(f);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    __half h;
    if (a > 0x7f800000u) { h.bits = (uint16_t) (sign | 0x7e00u); return h; }
    if (a >= 0x477ff000u) { h.bits = (uint16_t) (sign | 0x7c00u); return h; } // rounds to ≥ 65520: infinity
    if (a < 0x38800000u) { // below the smallest normal half (2^-14): subnormal or zero
        if (a < 0x33000000u) { h.bits = (uint16_t) sign; return h; } // ≤ 2^-25 rounds to zero (ties to even)
        uint32_t e = a >> 23, man = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int) e; // value = man · 2^(e − 150); half subnormal unit 2^-24
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        h.bits = (uint16_t) (sign | q);
        return h;
    }
    uint32_t r = a - 0x38000000u; // rebias 127 → 15
    r += 0xfffu + ((r >> 13) & 1u);
    h.bits = (uint16_t) (sign | (r >> 13));
    return h;
}
inline __half::__half(float f) : bits(__float2half_rn(f).bits) {}
inline __half::operator float() const { return __half2float(*this); }
inline __nv_bfloat16::__nv_bfloat16(float f) : bits(__float2bfloat16_rn(f).bits) {}
inline __nv_bfloat16::operator float() const { return __bfloat162float(*this); }

inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__float2bfloat16_rn(lo), __float2bfloat16_rn(hi)}; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.bits; }
inline unsigned short __half_as_ushort(__half h) { return h.bits; }
inline __half __ushort_as_half(unsigned short s) { __half h; h.bits = s; return h; }

// ------------------------------------------------------------------------------------------------ intrinsics
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned) (((unsigned long long) a * b) >> 32); }
inline float __log2f(float x) { return log2f(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
template <typename T> inline T __ldg(const T* p) { return *p; }
inline size_t __cvta_generic_to_shared(const void* p) { return (size_t) p; }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// ---------------------------------------------------------------------------------------------------- atomics
// A block's fibers never interleave inside one call, but blocks run on several OS threads: the compiler's atomics.
template <typename T> inline T emu_atomic_add_int(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline int atomicAdd(int* p, int v) { return emu_atomic_add_int(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return emu_atomic_add_int(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return emu_atomic_add_int(p, v); }
template <typename F, typename Bits> inline F emu_atomic_add_float(F* p, F v) {
    Bits* b = reinterpret_cast<Bits*>(p);
    Bits old = __atomic_load_n(b, __ATOMIC_RELAXED), next;
    F o;
    do {
        std::memcpy(&o, &old, sizeof(F));
        F n = (F) (o + v);
        std::memcpy(&next, &n, sizeof(F));
    } while (!__atomic_compare_exchange_n(b, &old, next, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return o;
}
inline float atomicAdd(float* p, float v) { return emu_atomic_add_float<float, uint32_t>(p, v); }
inline double atomicAdd(double* p, double v) { return emu_atomic_add_float<double, uint64_t>(p, v); }
// 16-bit floats: add in float and round, as the GPU's atomicAdd on __half / __nv_bfloat16 does.
template <typename H> inline H emu_atomic_add_16(H* p, H v) {
    uint16_t* b = &p->bits;
    uint16_t old = __atomic_load_n(b, __ATOMIC_RELAXED);
    H o;
    do {
        o.bits = old;
    } while (!__atomic_compare_exchange_n(b, &old, H((float) o + (float) v).bits, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return o;
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* p, __nv_bfloat16 v) { return emu_atomic_add_16(p, v); }
inline __half atomicAdd(__half* p, __half v) { return emu_atomic_add_16(p, v); }
template <typename T> inline T emu_atomic_cas(T* p, T compare, T value) {
    __atomic_compare_exchange_n(p, &compare, value, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare; // the old value either way
}
inline int atomicCAS(int* p, int c, int v) { return emu_atomic_cas(p, c, v); }
inline unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return emu_atomic_cas(p, c, v); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long c, unsigned long long v) { return emu_atomic_cas(p, c, v); }

// Kernel registration: every emulated .cu ends with a table of its extern "C" kernels (generated by
// native/build-emulator.sh), each with a trampoline that unpacks driver-API style arguments (an array of pointers).
namespace tessera_emu {
using Invoker = void (*)(void* fn, void** args);
struct Kernel {
    const char* name;
    void* fn;
    Invoker invoke;
};
template <typename... A, size_t... I> inline void invoke_with(void (*fn)(A...), void** args, std::index_sequence<I...>) {
    fn(*reinterpret_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}
template <typename... A> inline Kernel kernel(const char* name, void (*fn)(A...)) {
    return {name, reinterpret_cast<void*>(fn),
            [](void* f, void** args) { invoke_with(reinterpret_cast<void (*)(A...)>(f), args, std::index_sequence_for<A...>{}); }};
}
struct TS_EMU_API Registrar {
    Registrar(const char* module, const Kernel* kernels, int count);
};
} // namespace tessera_emu
