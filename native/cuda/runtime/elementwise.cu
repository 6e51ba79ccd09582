// Elementwise kernels of the CUDA backend: fill, copy/cast, unary and the fused gradients of four unary ops, binary
// (arithmetic and comparisons), where.
// The Java side is dev.tessera.runtime.cuda.CudaElementwise. The semantics are those of the CPU kernels
// (dev.tessera.runtime.cpu.Elementwise, UnaryOp, BinaryOp, Elements): op codes are the enum ordinals, integer
// binary arithmetic is exact in int64 (wrapping like Java's long), comparisons write BOOL, MAX/MIN propagate NaN,
// float → integer stores truncate toward zero and saturate (NaN → 0), BOOL stores v != 0.
//
// Two families of kernels:
//  * contiguous fast paths, one per float storage type (f32, f64, bf16, f16), all operands of that one dtype,
//    16-byte vector loads and stores where the addresses allow, the op a template parameter;
//  * generic strided kernels: every operand a TsLayout (the Java side merges the dims of all operands jointly,
//    so all layouts of one launch share ndim and shape and differ only in strides), runtime dtype codes,
//    computing in float or double (the kernel-name suffix) or exactly in int64 (_i64).
#include "tessera.cuh"

// dev.tessera.runtime.cpu.UnaryOp ordinals.
enum EwUnary {
    U_NEG, U_EXP, U_LOG, U_LOG1P, U_SQRT, U_RSQRT, U_ABS, U_TANH, U_SIGMOID, U_RELU, U_GELU_ERF, U_GELU_TANH, U_SILU,
    U_SOFTPLUS, U_SIGN, U_POW_SCALAR, U_CLAMP, U_AFFINE, U_NONFINITE
};
// dev.tessera.runtime.cpu.BinaryOp ordinals.
enum EwBinary { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE };

// ------------------------------------------------------------------------------------------------ math in float or double
// Precise library functions (no fast-math intrinsics), overloaded on the compute type.
__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double m_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_erf(float x) { return erff(x); }
__device__ __forceinline__ double m_erf(double x) { return erf(x); }
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return fabs(x); }
__device__ __forceinline__ bool m_signbit(float x) { return __float_as_int(x) < 0; }
__device__ __forceinline__ bool m_signbit(double x) { return __double_as_longlong(x) < 0; }
__device__ __forceinline__ bool m_isinf(float x) { return fabsf(x) == __int_as_float(0x7f800000); }
__device__ __forceinline__ bool m_isinf(double x) { return fabs(x) == __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ bool m_isfinite(float x) { return fabsf(x) < __int_as_float(0x7f800000); }
__device__ __forceinline__ bool m_isfinite(double x) { return fabs(x) < __longlong_as_double(0x7ff0000000000000LL); }

// Java's Math.max / Math.min: NaN wins, and +0.0 is larger than -0.0.
template <typename A> __device__ __forceinline__ A j_max(A x, A y) {
    if (x != x) return x;
    if (y != y) return y;
    if (x > y) return x;
    if (y > x) return y;
    return m_signbit(x) ? y : x;
}
template <typename A> __device__ __forceinline__ A j_min(A x, A y) {
    if (x != x) return x;
    if (y != y) return y;
    if (x < y) return x;
    if (y < x) return y;
    return m_signbit(x) ? x : y;
}
// Java's Math.pow differs from C's pow where C gives 1: pow(1, NaN) and pow(±1, ±inf) are NaN in Java.
template <typename A> __device__ __forceinline__ A j_pow(A x, A y) {
    if (y != y) return y;
    if (m_abs(x) == (A) 1 && m_isinf(y)) return y - y; // NaN
    return m_pow(x, y);
}
template <typename A> __device__ __forceinline__ A j_sigmoid(A x) {
    if (x >= (A) 0) return (A) 1 / ((A) 1 + m_exp(-x));
    A e = m_exp(x);
    return e / ((A) 1 + e);
}

// UnaryOp.apply in compute type A; a and b are the op's scalar parameters as the CPU has them (double).
// With a constant op (the fast paths) the switch folds away.
template <typename A> __device__ __forceinline__ A unary_apply(int op, A x, double a, double b) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return m_exp(x);
        case U_LOG: return m_log(x);
        case U_LOG1P: return m_log1p(x);
        case U_SQRT: return m_sqrt(x);
        case U_RSQRT: return (A) 1 / m_sqrt(x);
        case U_ABS: return m_abs(x);
        case U_TANH: return m_tanh(x);
        case U_SIGMOID: return j_sigmoid(x);
        case U_RELU: return x > (A) 0 || x != x ? x : (A) 0; // NaN propagates, as in PyTorch and the CPU
        case U_GELU_ERF: return (A) 0.5 * x * ((A) 1 + m_erf(x / (A) 1.4142135623730951));
        case U_GELU_TANH: {
            const A c = (A) 0.7978845608028654; // sqrt(2 / pi)
            return (A) 0.5 * x * ((A) 1 + m_tanh(c * (x + (A) 0.044715 * x * x * x)));
        }
        case U_SILU: return x * j_sigmoid(x);
        case U_SOFTPLUS: return x > (A) 20 ? x : m_log1p(m_exp(x));
        case U_SIGN: return x > (A) 0 ? (A) 1 : x < (A) 0 ? (A) -1 : x; // ±0 and NaN stay, as Math.signum
        case U_POW_SCALAR: return j_pow(x, (A) a);
        case U_CLAMP: return j_min(j_max(x, (A) a), (A) b); // rounding a, b to A commutes with the clamp
        // In double without contraction into an fma, exactly as the CPU computes it, then rounded to A.
        case U_AFFINE: return (A) __dadd_rn(__dmul_rn(a, (double) x), b);
        default: return m_isfinite(x) ? (A) 0 : (A) 1; // U_NONFINITE
    }
}

// BinaryOp.apply in compute type A; comparisons give 1 or 0.
template <typename A> __device__ __forceinline__ A binary_apply(int op, A x, A y) {
    switch (op) {
        case B_ADD: return x + y;
        case B_SUB: return x - y;
        case B_MUL: return x * y;
        case B_DIV: return x / y;
        case B_POW: return j_pow(x, y);
        case B_MAX: return j_max(x, y);
        case B_MIN: return j_min(x, y);
        case B_EQ: return x == y ? (A) 1 : (A) 0;
        case B_NE: return x != y ? (A) 1 : (A) 0;
        case B_LT: return x < y ? (A) 1 : (A) 0;
        case B_LE: return x <= y ? (A) 1 : (A) 0;
        case B_GT: return x > y ? (A) 1 : (A) 0;
        default: return x >= y ? (A) 1 : (A) 0; // B_GE
    }
}

// BinaryOp.applyLong: exact int64 arithmetic that wraps like Java's long (done in unsigned to stay defined).
// DIV and POW never come here (the CPU computes them in floating point too).
__device__ __forceinline__ long long binary_apply_i64(int op, long long x, long long y) {
    typedef unsigned long long U;
    switch (op) {
        case B_ADD: return (long long) ((U) x + (U) y);
        case B_SUB: return (long long) ((U) x - (U) y);
        case B_MUL: return (long long) ((U) x * (U) y);
        case B_MAX: return x > y ? x : y;
        case B_MIN: return x < y ? x : y;
        case B_EQ: return x == y;
        case B_NE: return x != y;
        case B_LT: return x < y;
        case B_LE: return x <= y;
        case B_GT: return x > y;
        case B_GE: return x >= y;
        default: return 0;
    }
}

// ------------------------------------------------------------------------------------------------ exact integer loads/stores
// Java's (long) of a double: toward zero, saturating, NaN → 0.
__device__ __forceinline__ long long j_d2l(double v) {
    if (v != v) return 0;
    if (v >= 9.2233720368547758e18) return 0x7fffffffffffffffLL;
    if (v <= -9.2233720368547758e18) return (long long) 0x8000000000000000ULL;
    return (long long) v;
}
// Elements.getLong: integers exactly, floating values truncated toward zero.
__device__ __forceinline__ long long ew_load_i64(const void* p, int dtype, long long i) {
    switch (dtype) {
        case TS_I32: return ((const int*) p)[i];
        case TS_I64: return ((const long long*) p)[i];
        case TS_U8: return ((const unsigned char*) p)[i];
        case TS_BOOL: return ((const unsigned char*) p)[i] != 0;
        default: return j_d2l(ts_load<double>(p, dtype, i));
    }
}
// Elements.setLong: integers wrap to the width (like Java's (int) / (byte) of a long), BOOL is v != 0, floating
// types go through double as the CPU does.
__device__ __forceinline__ void ew_store_i64(void* p, int dtype, long long i, long long v) {
    switch (dtype) {
        case TS_I32: ((int*) p)[i] = (int) (unsigned int) (unsigned long long) v; break;
        case TS_I64: ((long long*) p)[i] = v; break;
        case TS_U8: ((unsigned char*) p)[i] = (unsigned char) (unsigned long long) v; break;
        case TS_BOOL: ((unsigned char*) p)[i] = v != 0 ? 1 : 0; break;
        default: ts_store<double>(p, dtype, i, (double) v); break;
    }
}

// ------------------------------------------------------------------------------------------------ jointly merged layouts
// Quotient of nonnegative i / s, in 32 bits when both fit (far cheaper than a 64-bit division).
__device__ __forceinline__ long long ew_div(long long i, long long s) {
    if ((((unsigned long long) i | (unsigned long long) s) >> 32) == 0) return (long long) ((unsigned int) i / (unsigned int) s);
    return i / s;
}

// Element offsets of linear index i in K (1..4) layouts that share l0's ndim and shape. The loop over dims is
// unrolled so that every struct field is read at a constant offset (no local-memory copy of the parameters).
template <int K>
__device__ __forceinline__ void ew_offsets(long long i, const TsLayout& l0, const TsLayout& l1, const TsLayout& l2,
                                           const TsLayout& l3, long long (&o)[4]) {
    const int nd = l0.ndim;
    o[0] = o[1] = o[2] = o[3] = 0;
#pragma unroll
    for (int d = TS_MAX_DIMS - 1; d >= 1; --d) {
        if (d < nd) {
            long long s = l0.shape[d], q = ew_div(i, s), c = i - q * s;
            o[0] += c * l0.stride[d];
            if (K > 1) o[1] += c * l1.stride[d];
            if (K > 2) o[2] += c * l2.stride[d];
            if (K > 3) o[3] += c * l3.stride[d];
            i = q;
        }
    }
    o[0] += i * l0.stride[0];
    if (K > 1) o[1] += i * l1.stride[0];
    if (K > 2) o[2] += i * l2.stride[0];
    if (K > 3) o[3] += i * l3.stride[0];
}

#define EW_TID ((long long) blockIdx.x * blockDim.x + threadIdx.x)
#define EW_NTHREADS ((long long) gridDim.x * blockDim.x)

// ------------------------------------------------------------------------------------------------ 16-byte vectors
// Vec<T>::N elements of T in 16 bytes, converted to and from the compute type on load and store.
template <typename T> struct Vec;
template <> struct Vec<float> {
    static constexpr int N = 4;
    static __device__ __forceinline__ void load(const float* p, long long v, float (&r)[N]) {
        float4 q = reinterpret_cast<const float4*>(p)[v];
        r[0] = q.x; r[1] = q.y; r[2] = q.z; r[3] = q.w;
    }
    static __device__ __forceinline__ void store(float* p, long long v, const float (&r)[N]) {
        reinterpret_cast<float4*>(p)[v] = make_float4(r[0], r[1], r[2], r[3]);
    }
};
template <> struct Vec<double> {
    static constexpr int N = 2;
    static __device__ __forceinline__ void load(const double* p, long long v, double (&r)[N]) {
        double2 q = reinterpret_cast<const double2*>(p)[v];
        r[0] = q.x; r[1] = q.y;
    }
    static __device__ __forceinline__ void store(double* p, long long v, const double (&r)[N]) {
        reinterpret_cast<double2*>(p)[v] = make_double2(r[0], r[1]);
    }
};
// BF16 and F16: eight 16-bit halves of four 32-bit words, low half first (little-endian element order).
__device__ __forceinline__ float ew_half_bits_to_float(__nv_bfloat16*, unsigned int h) { return __uint_as_float(h << 16); }
__device__ __forceinline__ float ew_half_bits_to_float(__half*, unsigned int h) { return __half2float(__ushort_as_half((unsigned short) h)); }
__device__ __forceinline__ unsigned int ew_float_to_half_bits(__nv_bfloat16*, float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }
__device__ __forceinline__ unsigned int ew_float_to_half_bits(__half*, float f) { return __half_as_ushort(__float2half_rn(f)); }
template <typename H> struct Vec16 {
    static constexpr int N = 8;
    static __device__ __forceinline__ void load(const H* p, long long v, float (&r)[N]) {
        uint4 q = reinterpret_cast<const uint4*>(p)[v];
        unsigned int w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            r[2 * k] = ew_half_bits_to_float((H*) 0, w[k] & 0xffffu);
            r[2 * k + 1] = ew_half_bits_to_float((H*) 0, w[k] >> 16);
        }
    }
    static __device__ __forceinline__ void store(H* p, long long v, const float (&r)[N]) {
        unsigned int w[4];
#pragma unroll
        for (int k = 0; k < 4; k++) w[k] = ew_float_to_half_bits((H*) 0, r[2 * k]) | (ew_float_to_half_bits((H*) 0, r[2 * k + 1]) << 16);
        reinterpret_cast<uint4*>(p)[v] = make_uint4(w[0], w[1], w[2], w[3]);
    }
};
template <> struct Vec<__nv_bfloat16> : Vec16<__nv_bfloat16> {};
template <> struct Vec<__half> : Vec16<__half> {};

__device__ __forceinline__ bool ew_aligned16(const void* p) { return ((unsigned long long) p & 15) == 0; }

// Vectors of N elements: all full vectors with 16-byte accesses, the last partial one element by element, so that
// each op is inlined N times per kernel. The Java side launches these only where every dense operand is 16-byte
// aligned (and a BOOL output N-byte aligned); other contiguous operands take the strided kernels.
template <typename T, typename A, int N>
__device__ __forceinline__ void ew_load_part(const T* p, long long v, long long n, A (&r)[N]) {
    if ((v + 1) * N <= n) {
        Vec<T>::load(p, v, r);
    } else {
#pragma unroll
        for (int k = 0; k < N; k++) r[k] = v * N + k < n ? ts_acc(p[v * N + k]) : (A) 0;
    }
}

// ------------------------------------------------------------------------------------------------ contiguous unary
template <typename T, int OP>
__device__ __forceinline__ void unary_contig(const T* x, T* out, long long n, double a, double b) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = Vec<T>::N;
    const long long nv = (n + N - 1) / N;
    for (long long v = EW_TID; v < nv; v += EW_NTHREADS) {
        A r[N];
        ew_load_part<T, A, N>(x, v, n, r);
#pragma unroll
        for (int k = 0; k < N; k++) r[k] = unary_apply<A>(OP, r[k], a, b);
        if ((v + 1) * N <= n) {
            Vec<T>::store(out, v, r);
        } else {
            for (int k = 0; k < N && v * N + k < n; k++) out[v * N + k] = ts_from_acc<T>(r[k]);
        }
    }
}

#define EW_UNARY_CASE(OPC) case OPC: unary_contig<T, OPC>(x, out, n, a, b); break;
template <typename T> __device__ void unary_impl(const T* x, T* out, long long n, int op, double a, double b) {
    switch (op) {
        EW_UNARY_CASE(U_NEG) EW_UNARY_CASE(U_EXP) EW_UNARY_CASE(U_LOG) EW_UNARY_CASE(U_LOG1P) EW_UNARY_CASE(U_SQRT)
        EW_UNARY_CASE(U_RSQRT) EW_UNARY_CASE(U_ABS) EW_UNARY_CASE(U_TANH) EW_UNARY_CASE(U_SIGMOID) EW_UNARY_CASE(U_RELU)
        EW_UNARY_CASE(U_GELU_ERF) EW_UNARY_CASE(U_GELU_TANH) EW_UNARY_CASE(U_SILU) EW_UNARY_CASE(U_SOFTPLUS)
        EW_UNARY_CASE(U_SIGN) EW_UNARY_CASE(U_POW_SCALAR) EW_UNARY_CASE(U_CLAMP) EW_UNARY_CASE(U_AFFINE)
        EW_UNARY_CASE(U_NONFINITE)
        default: break;
    }
}
// out = op(x): x and out contiguous, 16-byte aligned, of one float dtype (the suffix); every UnaryOp.
TS_FLOAT_ENTRIES(unary, (const void* x, void* out, long long n, int op, double a, double b), ((const T*) x, (T*) out, n, op, a, b))

// ------------------------------------------------------------------------------------------------ contiguous binary
// MODE 0: x and y contiguous; 1: x is one scalar (broadcast); 2: y is one scalar. Arithmetic (CMP false) writes T,
// comparisons write BOOL bytes.
template <typename T, int OP, int MODE, bool CMP>
__device__ __forceinline__ void binary_contig(const T* x, const T* y, void* out, long long n) {
    typedef typename TsAcc<T>::type A;
    constexpr int N = Vec<T>::N;
    const A xs = MODE == 1 ? ts_acc(x[0]) : (A) 0, ys = MODE == 2 ? ts_acc(y[0]) : (A) 0;
    const long long nv = (n + N - 1) / N;
    for (long long v = EW_TID; v < nv; v += EW_NTHREADS) {
        A rx[N], ry[N];
        if (MODE != 1) ew_load_part<T, A, N>(x, v, n, rx);
        if (MODE != 2) ew_load_part<T, A, N>(y, v, n, ry);
#pragma unroll
        for (int k = 0; k < N; k++) rx[k] = binary_apply<A>(OP, MODE == 1 ? xs : rx[k], MODE == 2 ? ys : ry[k]);
        const bool full = (v + 1) * N <= n;
        if (CMP) {
            unsigned long long bits = 0;
#pragma unroll
            for (int k = 0; k < N; k++) bits |= (unsigned long long) (rx[k] != (A) 0) << (8 * k);
            if (full) {
                if (N == 8) reinterpret_cast<unsigned long long*>(out)[v] = bits;
                else if (N == 4) reinterpret_cast<unsigned int*>(out)[v] = (unsigned int) bits;
                else reinterpret_cast<unsigned short*>(out)[v] = (unsigned short) bits;
            } else {
                for (int k = 0; k < N && v * N + k < n; k++) ((unsigned char*) out)[v * N + k] = (unsigned char) (bits >> (8 * k)) & 1;
            }
        } else if (full) {
            Vec<T>::store((T*) out, v, rx);
        } else {
            for (int k = 0; k < N && v * N + k < n; k++) ((T*) out)[v * N + k] = ts_from_acc<T>(rx[k]);
        }
    }
}

#define EW_BINARY_CASE(OPC, CMP)                                          \
    case OPC:                                                             \
        if (mode == 1) binary_contig<T, OPC, 1, CMP>(x, y, out, n);       \
        else if (mode == 2) binary_contig<T, OPC, 2, CMP>(x, y, out, n);  \
        else binary_contig<T, OPC, 0, CMP>(x, y, out, n);                 \
        break;
template <typename T> __device__ void binary_impl(const T* x, const T* y, void* out, long long n, int op, int mode) {
    switch (op) {
        EW_BINARY_CASE(B_ADD, false) EW_BINARY_CASE(B_SUB, false) EW_BINARY_CASE(B_MUL, false)
        EW_BINARY_CASE(B_DIV, false) EW_BINARY_CASE(B_MAX, false) EW_BINARY_CASE(B_MIN, false)
        default: break;
    }
}
template <typename T> __device__ void compare_impl(const T* x, const T* y, void* out, long long n, int op, int mode) {
    switch (op) {
        EW_BINARY_CASE(B_EQ, true) EW_BINARY_CASE(B_NE, true) EW_BINARY_CASE(B_LT, true)
        EW_BINARY_CASE(B_LE, true) EW_BINARY_CASE(B_GT, true) EW_BINARY_CASE(B_GE, true)
        default: break;
    }
}
// out = op(x, y) for ADD, SUB, MUL, DIV, MAX, MIN (POW takes the strided kernel): x, y, out of one float dtype, out
// contiguous, x and y each contiguous or (mode 1: x, mode 2: y) a single broadcast scalar; dense operands 16-byte aligned.
TS_FLOAT_ENTRIES(binary, (const void* x, const void* y, void* out, long long n, int op, int mode),
                 ((const T*) x, (const T*) y, out, n, op, mode))
// out (BOOL, contiguous, aligned to N = 16 / sizeof(T) bytes) = op(x, y) for the comparisons EQ..GE; x and y as for binary_*.
TS_FLOAT_ENTRIES(compare, (const void* x, const void* y, void* out, long long n, int op, int mode),
                 ((const T*) x, (const T*) y, out, n, op, mode))

// ------------------------------------------------------------------------------------------------ fill and raw copies
// Element types by width, for kernels that move bits without converting.
template <int W> struct Word;
template <> struct Word<1> { typedef unsigned char type; };
template <> struct Word<2> { typedef unsigned short type; };
template <> struct Word<4> { typedef unsigned int type; };
template <> struct Word<8> { typedef unsigned long long type; };

// Every element of out (W bytes each) gets the low W bytes of `bits`; 16-byte stores where out is dense and aligned.
template <int W> __device__ void fill_impl(void* out, long long n, unsigned long long bits, const TsLayout& lo) {
    typedef typename Word<W>::type E;
    const E e = (E) bits;
    if (lo.ndim == 1 && lo.stride[0] == 1) {
        long long start = 0;
        if (ew_aligned16(out)) {
            unsigned long long b8 = bits;
            if (W == 1) b8 = (bits & 0xffull) * 0x0101010101010101ull;
            if (W == 2) b8 = (bits & 0xffffull) * 0x0001000100010001ull;
            if (W == 4) b8 = (bits & 0xffffffffull) * 0x0000000100000001ull;
            const uint4 q = make_uint4((unsigned int) b8, (unsigned int) (b8 >> 32), (unsigned int) b8, (unsigned int) (b8 >> 32));
            long long nv = n / (16 / W);
            for (long long v = EW_TID; v < nv; v += EW_NTHREADS) reinterpret_cast<uint4*>(out)[v] = q;
            start = nv * (16 / W);
        }
        for (long long i = start + EW_TID; i < n; i += EW_NTHREADS) ((E*) out)[i] = e;
        return;
    }
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<1>(i, lo, lo, lo, lo, o);
        ((E*) out)[o[0]] = e;
    }
}
#define EW_WIDTH_ENTRIES(name, params, args)                                         \
    extern "C" __global__ void name##_u8 params { name##_impl<1> args; }             \
    extern "C" __global__ void name##_u16 params { name##_impl<2> args; }            \
    extern "C" __global__ void name##_u32 params { name##_impl<4> args; }            \
    extern "C" __global__ void name##_u64 params { name##_impl<8> args; }
// Fill with a bit pattern, by element width (the Java side converts the value to the dtype's bits).
EW_WIDTH_ENTRIES(fill, (void* out, long long n, unsigned long long bits, TsLayout lo), (out, n, bits, lo))

// out = x, same dtype (width W), any strides (x may broadcast).
template <int W> __device__ void copy_impl(const void* x, void* out, long long n, TsLayout lx, TsLayout lo) {
    typedef typename Word<W>::type E;
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<2>(i, lx, lo, lo, lo, o);
        ((E*) out)[o[1]] = ((const E*) x)[o[0]];
    }
}
EW_WIDTH_ENTRIES(copy, (const void* x, void* out, long long n, TsLayout lx, TsLayout lo), (x, out, n, lx, lo))

// ------------------------------------------------------------------------------------------------ generic strided kernels
// out = (out dtype) x through double: the CPU's Elements.get / Elements.set, exact for every pair except integer → integer,
// which copy_strided_i64 does.
extern "C" __global__ void copy_strided_f64(const void* x, int xt, void* out, int ot, long long n, TsLayout lx, TsLayout lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<2>(i, lx, lo, lo, lo, o);
        ts_store<double>(out, ot, o[1], ts_load<double>(x, xt, o[0]));
    }
}
extern "C" __global__ void copy_strided_i64(const void* x, int xt, void* out, int ot, long long n, TsLayout lx, TsLayout lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<2>(i, lx, lo, lo, lo, o);
        ew_store_i64(out, ot, o[1], ew_load_i64(x, xt, o[0]));
    }
}

// out = op(x) computed in A, any dtypes and strides.
template <typename A>
__device__ void unary_strided_impl(const void* x, int xt, void* out, int ot, long long n, int op, double a, double b,
                                   const TsLayout& lx, const TsLayout& lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<2>(i, lx, lo, lo, lo, o);
        ts_store<A>(out, ot, o[1], unary_apply<A>(op, ts_load<A>(x, xt, o[0]), a, b));
    }
}
extern "C" __global__ void unary_strided_f32(const void* x, int xt, void* out, int ot, long long n, int op, double a, double b,
                                             TsLayout lx, TsLayout lo) {
    unary_strided_impl<float>(x, xt, out, ot, n, op, a, b, lx, lo);
}
extern "C" __global__ void unary_strided_f64(const void* x, int xt, void* out, int ot, long long n, int op, double a, double b,
                                             TsLayout lx, TsLayout lo) {
    unary_strided_impl<double>(x, xt, out, ot, n, op, a, b, lx, lo);
}

// dx = g · op'(x) for the ops with a fused gradient, computed in A, any float dtypes and strides: sigmoid and tanh
// from y = op(x), SiLU and softplus from x (y may then be x itself). The twin of the CPU's UnaryGrad: one pass where
// the composed gradient takes five to seven kernels and as many temporaries.
template <typename A> __device__ __forceinline__ A unary_derivative(int op, A x, A y) {
    switch (op) {
        case U_SIGMOID: return y * ((A) 1 - y);
        case U_TANH: return (A) 1 - y * y;
        case U_SILU: {
            A s = j_sigmoid(x);
            return s * ((A) 1 + x * ((A) 1 - s));
        }
        default: return j_sigmoid(x); // U_SOFTPLUS
    }
}
template <typename A>
__device__ void unary_backward_strided_impl(const void* x, const void* y, const void* g, void* dx, int t, long long n, int op,
                                            const TsLayout& lx, const TsLayout& ly, const TsLayout& lg, const TsLayout& ld) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<4>(i, lx, ly, lg, ld, o);
        A d = unary_derivative<A>(op, ts_load<A>(x, t, o[0]), ts_load<A>(y, t, o[1]));
        ts_store<A>(dx, t, o[3], ts_load<A>(g, t, o[2]) * d);
    }
}
extern "C" __global__ void unary_backward_strided_f32(const void* x, const void* y, const void* g, void* dx, int t, long long n, int op,
                                                      TsLayout lx, TsLayout ly, TsLayout lg, TsLayout ld) {
    unary_backward_strided_impl<float>(x, y, g, dx, t, n, op, lx, ly, lg, ld);
}
extern "C" __global__ void unary_backward_strided_f64(const void* x, const void* y, const void* g, void* dx, int t, long long n, int op,
                                                      TsLayout lx, TsLayout ly, TsLayout lg, TsLayout ld) {
    unary_backward_strided_impl<double>(x, y, g, dx, t, n, op, lx, ly, lg, ld);
}

// out = op(x, y) computed in A (comparisons store 1/0 into whatever out is, normally BOOL).
template <typename A>
__device__ void binary_strided_impl(const void* x, int xt, const void* y, int yt, void* out, int ot, long long n, int op,
                                    const TsLayout& lx, const TsLayout& ly, const TsLayout& lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<3>(i, lx, ly, lo, lo, o);
        ts_store<A>(out, ot, o[2], binary_apply<A>(op, ts_load<A>(x, xt, o[0]), ts_load<A>(y, yt, o[1])));
    }
}
extern "C" __global__ void binary_strided_f32(const void* x, int xt, const void* y, int yt, void* out, int ot, long long n, int op,
                                              TsLayout lx, TsLayout ly, TsLayout lo) {
    binary_strided_impl<float>(x, xt, y, yt, out, ot, n, op, lx, ly, lo);
}
extern "C" __global__ void binary_strided_f64(const void* x, int xt, const void* y, int yt, void* out, int ot, long long n, int op,
                                              TsLayout lx, TsLayout ly, TsLayout lo) {
    binary_strided_impl<double>(x, xt, y, yt, out, ot, n, op, lx, ly, lo);
}
// Integer operands (the promoted type is integral) and an op other than DIV/POW: exact int64, as BinaryOp.applyLong.
extern "C" __global__ void binary_strided_i64(const void* x, int xt, const void* y, int yt, void* out, int ot, long long n, int op,
                                              TsLayout lx, TsLayout ly, TsLayout lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<3>(i, lx, ly, lo, lo, o);
        ew_store_i64(out, ot, o[2], binary_apply_i64(op, ew_load_i64(x, xt, o[0]), ew_load_i64(y, yt, o[1])));
    }
}

// out = cond ? x : y. Floating out: values through double (exact); integral out: through int64 (exact).
extern "C" __global__ void where_strided_f64(const void* c, int ct, const void* x, int xt, const void* y, int yt, void* out, int ot,
                                             long long n, TsLayout lc, TsLayout lx, TsLayout ly, TsLayout lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<4>(i, lc, lx, ly, lo, o);
        bool take = ew_load_i64(c, ct, o[0]) != 0;
        ts_store<double>(out, ot, o[3], take ? ts_load<double>(x, xt, o[1]) : ts_load<double>(y, yt, o[2]));
    }
}
extern "C" __global__ void where_strided_i64(const void* c, int ct, const void* x, int xt, const void* y, int yt, void* out, int ot,
                                             long long n, TsLayout lc, TsLayout lx, TsLayout ly, TsLayout lo) {
    TS_GRID_LOOP(i, n) {
        long long o[4];
        ew_offsets<4>(i, lc, lx, ly, lo, o);
        bool take = ew_load_i64(c, ct, o[0]) != 0;
        ew_store_i64(out, ot, o[3], take ? ew_load_i64(x, xt, o[1]) : ew_load_i64(y, yt, o[2]));
    }
}
