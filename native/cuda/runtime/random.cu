// Counter-based random tensors: Philox 4x32-10 keyed by the 64-bit seed, counter = 64-bit block index, exactly as
// dev.tessera.runtime.Generator and RandomOps compute them (Java side: dev.tessera.runtime.cuda.CudaRandom).
//
// Element j of a uniform or normal draw uses block start + j/4, word j%4; element j of a randint draw uses block
// start + j/2, words 2(j%2) (high half) and 2(j%2)+1 (low half). One thread per block of four words.
// Uniform and randint are bit-identical to the CPU. Normal uses double log/sqrt/sin/cos as the CPU does, but
// CUDA's double transcendentals may differ from Java's by an ulp of double, so after rounding to float an
// element can (rarely) differ by one float ulp.
#include "tessera.cuh"

#define PX_M0 0xD2511F53u
#define PX_M1 0xCD9E8D57u
#define PX_W0 0x9E3779B9u
#define PX_W1 0xBB67AE85u

// Philox 4x32-10 of counter (block lo, block hi, 0, 0) under key (seed lo, seed hi).
__device__ __forceinline__ uint4 px_block(unsigned long long block, unsigned long long seed) {
    unsigned c0 = (unsigned) block, c1 = (unsigned) (block >> 32), c2 = 0u, c3 = 0u;
    unsigned k0 = (unsigned) seed, k1 = (unsigned) (seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        unsigned hi0 = __umulhi(PX_M0, c0), lo0 = PX_M0 * c0;
        unsigned hi1 = __umulhi(PX_M1, c2), lo1 = PX_M1 * c2;
        unsigned n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += PX_W0;
        k1 += PX_W1;
    }
    return make_uint4(c0, c1, c2, c3);
}

__device__ __forceinline__ unsigned px_word(const uint4& w, int l) { return l == 0 ? w.x : l == 1 ? w.y : l == 2 ? w.z : w.w; }

// Uniform in [0, 1) from the top 24 bits (exact in float); (0, 1] for a logarithm.
__device__ __forceinline__ float px_uniform(unsigned word) { return (float) (word >> 8) * 0x1.0p-24f; }
__device__ __forceinline__ float px_uniform_open_zero(unsigned word) { return (float) ((word >> 8) + 1u) * 0x1.0p-24f; }

// ------------------------------------------------------------------ uniform

template <typename T>
__device__ void uniform_impl(T* __restrict__ out, long long n, unsigned long long seed, unsigned long long start) {
    TS_GRID_LOOP(b, (n + 3) / 4) {
        uint4 w = px_block(start + (unsigned long long) b, seed);
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            long long j = b * 4 + l;
            if (j < n) out[j] = ts_from_double<T>((double) px_uniform(px_word(w, l)));
        }
    }
}
TS_FLOAT_ENTRIES(uniform, (void* out, long long n, unsigned long long seed, unsigned long long start), ((T*) out, n, seed, start))

// ------------------------------------------------------------------ normal (Box–Muller)

// Word pairs (0,1) and (2,3): r = sqrt(−2 log u₀) with u₀ in (0, 1], θ = 2π·u₁; cos for the even element, sin for
// the odd, all in double in the CPU's order of operations (no FMA contraction is possible: only products).
template <typename T>
__device__ void normal_impl(T* __restrict__ out, long long n, unsigned long long seed, unsigned long long start) {
    TS_GRID_LOOP(b, (n + 3) / 4) {
        uint4 w = px_block(start + (unsigned long long) b, seed);
#pragma unroll
        for (int pair = 0; pair < 2; ++pair) {
            long long j = b * 4 + 2 * pair;
            if (j >= n) break;
            double r = sqrt(-2.0 * log((double) px_uniform_open_zero(px_word(w, 2 * pair))));
            double theta = (2.0 * 3.141592653589793) * (double) px_uniform(px_word(w, 2 * pair + 1));
            double s, c;
            sincos(theta, &s, &c);
            out[j] = ts_from_double<T>(r * c);
            if (j + 1 < n) out[j + 1] = ts_from_double<T>(r * s);
        }
    }
}
TS_FLOAT_ENTRIES(normal, (void* out, long long n, unsigned long long seed, unsigned long long start), ((T*) out, n, seed, start))

// ------------------------------------------------------------------ randint

// low + (v mod range) with v = (hi word << 32 | lo word) and range = high − low, both unsigned 64-bit, wrapping like
// Java's long arithmetic and Long.remainderUnsigned.
extern "C" __global__ void randint_i64(long long* __restrict__ out, long long n, unsigned long long seed, unsigned long long start,
                                       long long low, unsigned long long range) {
    TS_GRID_LOOP(b, (n + 1) / 2) {
        uint4 w = px_block(start + (unsigned long long) b, seed);
        unsigned long long v0 = ((unsigned long long) w.x << 32) | w.y;
        unsigned long long v1 = ((unsigned long long) w.z << 32) | w.w;
        long long j = b * 2;
        out[j] = (long long) ((unsigned long long) low + v0 % range);
        if (j + 1 < n) out[j + 1] = (long long) ((unsigned long long) low + v1 % range);
    }
}
