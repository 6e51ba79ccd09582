// Fused selective scan (Mamba-2 SSD form with scalar A per head, and the Mamba-1 form with A [H,N]), forward,
// backward and the decoding step. Math, shapes and gradients: shared/specs/kernels.md §1 and
// kernels/.../scan/SelectiveScanReference.java (the float64 oracle); the Java launcher is SelectiveScanCuda.java.
//
// Layouts: x, z, y [B,L,H,P] = [B,L,HP] with row r = h·P + p; dt [B,L,H]; A [H] or [H,N]; Bm, Cm [B,L,G,N];
// dtBias, Dskip [H]; initial/final state [S,HP,N] (S = B, or the packed sequences of cuSeqlens). x, dt, Bm, Cm, z and
// the gradients dx, dz, d dt (and, through ss_colsum, dBm, dCm) are row-strided: position row = b·L + t starts
// row·s elements in, s ≥ the row's width, so that slices of a wider projection are read and written where they lie.
// y, dy, the states and everything else are contiguous.
//
// Thread mapping. The state of one (batch, head) is P×N. A block of NT threads (blockDim.x, a multiple of 32) holds
// NT/R state rows: R lanes per row (R a power of two ≤ 32), lane j of row i keeping the nk ≤ SS_KPT state entries
// n = j + k·R in registers. y_t[row] = Σ_n S[row,n]·C_t[n] is a shuffle reduction over the R lanes (they sit in one
// warp). A block ("tile") covers either `hpb` whole heads of one group (P ≤ NT/R) or one slice of `tph` of one head
// (P > NT/R); tiles never straddle groups, so a block's rows share one Bm/Cm group.
//
// Forward: sequential over L within a block (grid = tiles × chunks × B). With few (batch, tile) blocks the length is
// cut into chunks of Q positions: mode 0 scans each chunk from a zero state and stores its end state E_c and the
// product of its decays Π_c (0 when a sequence starts inside it), ss_carry_* turns these into the state entering
// every chunk (S_in[c+1] = Π_c ⊙ S_in[c] + E_c, in place over E), and mode 1 rescans each chunk from its entering
// state writing y and the final states. With enough blocks mode 1 alone runs with one chunk. States never reach HBM
// per step.
//
// Backward (grid = tiles × 1 × B, each block reverse-sequential over the whole length, the adjoint G = ∂L/∂S in
// registers): checkpoints every Qb = M·T positions come from the same mode 0 + carry passes; a block walks the
// chunks from the last, recomputes the chunk forward keeping the state at every T-th position in shared memory,
// then per sub-block of T positions recomputes the T states (shared memory, per thread) and runs the adjoint
// backwards through them. Per-position cross-row sums (dB, dC over the block's rows, d dt over a head's rows) are
// buffered for T positions in shared memory and flushed once per sub-block; dB/dC go to per-tile partial buffers
// summed by ss_colsum (deterministic), or with atomicAdd into one buffer when the partials would be too large
// (the Java side decides). dA, dD are per-block partials (summed by ss_colsum); d dt per head-slice partials
// (ss_ddt_finish). Nothing is atomically accumulated in the deterministic mode.
//
// Accumulation: float for F32/BF16/F16 storage, double for F64; states and partials in that type.
#include "tessera.cuh"

#define SS_KPT 8
#define SS_FULL 0xffffffffu

__device__ __forceinline__ float ss_exp(float v) { return expf(v); }
__device__ __forceinline__ double ss_exp(double v) { return exp(v); }
__device__ __forceinline__ float ss_log1p(float v) { return log1pf(v); }
__device__ __forceinline__ double ss_log1p(double v) { return log1p(v); }

// Δ from v = dt + dtBias: softplus (identity above 20, as the CPU's StepSize) or v itself.
template <typename A> __device__ __forceinline__ A ss_delta(A v, int softplus) {
    return (!softplus || v > (A) 20) ? v : ss_log1p(ss_exp(v));
}
template <typename A> __device__ __forceinline__ A ss_delta_grad(A v, int softplus) {
    return (!softplus || v > (A) 20) ? (A) 1 : (A) 1 / ((A) 1 + ss_exp(-v));
}
template <typename A> __device__ __forceinline__ A ss_sigmoid(A v) { return (A) 1 / ((A) 1 + ss_exp(-v)); }

// Sum over the R lanes of a row (aligned groups of R lanes in one warp); every lane of the group gets it.
template <typename A> __device__ __forceinline__ A ss_row_sum(A v, int R) {
    for (int o = R >> 1; o > 0; o >>= 1) v += __shfl_xor_sync(SS_FULL, v, o);
    return v;
}
// Sum over the rows of a warp (lanes with the same j = lane % R); lanes 0..R−1 (and all others) get it.
template <typename A> __device__ __forceinline__ A ss_cross_rows(A v, int R) {
    for (int o = R; o < 32; o <<= 1) v += __shfl_xor_sync(SS_FULL, v, o);
    return v;
}

// The sequence containing position t of a packed row: the largest s < S with cu[s] ≤ t (skips empty sequences).
__device__ __forceinline__ int ss_seq_of(const int* cu, int S, int t) {
    int lo = 0, hi = S - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (__ldg(cu + mid) <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
}

struct SsSeqs {
    const int* cu;
    int S, L, b;
    __device__ __forceinline__ void at(int t, int& s, int& start, int& end) const {
        if (cu == nullptr) { s = b; start = 0; end = L; return; }
        s = ss_seq_of(cu, S, t);
        start = __ldg(cu + s);
        end = __ldg(cu + s + 1);
    }
};

// Which rows this block and thread own.
struct SsGeom {
    int HP, hpg, nk, rows, g, h0, nhb, pt, i, lane, h, p, r, tileInGroup;
    bool valid;
    __device__ __forceinline__ SsGeom(int H, int P, int G, int N, int R, int hpb, int tph, int tile) {
        HP = H * P;
        hpg = H / G;
        nk = (N + R - 1) / R;
        int hbpg = (hpg + hpb - 1) / hpb, tpg = hbpg * tph;
        g = tile / tpg;
        tileInGroup = tile - g * tpg;
        int hb = tileInGroup / tph;
        pt = tileInGroup - hb * tph;
        h0 = g * hpg + hb * hpb;
        nhb = min(hpb, hpg - hb * hpb);
        int rpb = blockDim.x / R, p0 = 0;
        if (tph > 1) { p0 = pt * rpb; rows = min(rpb, P - p0); nhb = 1; }
        else rows = nhb * P;
        i = threadIdx.x / R;
        lane = threadIdx.x - i * R;
        valid = i < rows;
        int ii = valid ? i : 0;
        if (tph > 1) { h = h0; p = p0 + ii; }
        else { h = h0 + ii / P; p = ii - (ii / P) * P; }
        r = h * P + p;
    }
};

// ------------------------------------------------------------------------------------------------------ forward

// mode 0: chunk-local scan from a zero state, writing the end state to chunkE and the decay product to chunkPi,
//         both [B, chunks, HP, N]. mode 1: the scan proper, from the state entering the chunk (chunkE after
//         ss_carry, or zero when chunkE is null or c = 0), writing y and (when fin is set) each sequence's final
//         state. init may equal fin (the in-place decoding step): a thread reads its entries before writing them.
template <typename T>
__device__ void ss_forward_impl(const T* __restrict__ x, const T* __restrict__ dt, const T* __restrict__ Aw,
                                const T* __restrict__ Bm, const T* __restrict__ Cm, const T* __restrict__ dtBias,
                                const T* __restrict__ Dskip, const T* __restrict__ z, const T* init, T* __restrict__ y,
                                T* fin, typename TsAcc<T>::type* chunkE, typename TsAcc<T>::type* chunkPi,
                                const int* __restrict__ cu, int S, long long xRow, long long dtRow, long long bRow,
                                long long cRow, long long zRow, int L, int H, int P, int G, int N, int aPerState,
                                int softplus, int R, int hpb, int tph, int Q, int mode) {
    typedef typename TsAcc<T>::type A;
    const SsGeom q(H, P, G, N, R, hpb, tph, blockIdx.x);
    const int c = blockIdx.y, b = blockIdx.z, C = gridDim.y;
    const int t0 = c * Q, t1 = min(L, t0 + Q);
    if (t0 >= L) return;
    const SsSeqs seqs{cu, S, L, b};
    A st[SS_KPT], prod[SS_KPT], aN[SS_KPT];
    const long long chunkBase = ((long long) (b * C + c) * q.HP + q.r) * N;
#pragma unroll
    for (int k = 0; k < SS_KPT; k++) {
        int n = q.lane + k * R;
        bool ok = k < q.nk && n < N;
        st[k] = (mode == 1 && chunkE != nullptr && c > 0 && ok) ? chunkE[chunkBase + n] : (A) 0;
        prod[k] = (A) 1;
        aN[k] = ok && aPerState ? ts_acc(Aw[q.h * N + n]) : (A) 0;
    }
    const A aH = aPerState ? (A) 0 : ts_acc(Aw[q.h]);
    const A bias = dtBias ? ts_acc(dtBias[q.h]) : (A) 0;
    const A dsk = Dskip ? ts_acc(Dskip[q.h]) : (A) 0;
    int s, start, end;
    seqs.at(t0, s, start, end);
    for (int t = t0; t < t1; t++) {
        if (t >= end) seqs.at(t, s, start, end);
        const long long row = (long long) b * L + t;
        if (t == start) {
#pragma unroll
            for (int k = 0; k < SS_KPT; k++) {
                int n = q.lane + k * R;
                st[k] = (init != nullptr && k < q.nk && n < N) ? ts_acc(init[((long long) s * q.HP + q.r) * N + n]) : (A) 0;
                prod[k] = (A) 0;
            }
        }
        const A delta = ss_delta(ts_acc(dt[row * dtRow + q.h]) + bias, softplus);
        const A xv = ts_acc(x[row * xRow + q.r]);
        const A a0 = aPerState ? (A) 0 : ss_exp(delta * aH);
        const long long bi = row * bRow + q.g * N, ci = row * cRow + q.g * N;
        A yp = 0;
#pragma unroll
        for (int k = 0; k < SS_KPT; k++) {
            int n = q.lane + k * R;
            if (k < q.nk) {
                bool ok = n < N;
                A bv = ok ? ts_acc(Bm[bi + n]) : (A) 0;
                A a = aPerState ? (ok ? ss_exp(delta * aN[k]) : (A) 1) : a0;
                st[k] = a * st[k] + delta * xv * bv;
                if (mode == 0) prod[k] *= a;
                else if (ok) yp += st[k] * ts_acc(Cm[ci + n]);
            }
        }
        if (mode == 1) {
            yp = ss_row_sum(yp, R);
            if (q.valid && q.lane == 0) {
                A yv = yp + dsk * xv;
                if (z != nullptr) {
                    A zv = ts_acc(z[row * zRow + q.r]);
                    yv *= zv * ss_sigmoid(zv);
                }
                y[row * q.HP + q.r] = ts_from_acc<T>(yv);
            }
            if (fin != nullptr && t + 1 == end && q.valid) {
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) {
                    int n = q.lane + k * R;
                    if (k < q.nk && n < N) fin[((long long) s * q.HP + q.r) * N + n] = ts_from_acc<T>(st[k]);
                }
            }
        }
    }
    if (mode == 0 && q.valid) {
#pragma unroll
        for (int k = 0; k < SS_KPT; k++) {
            int n = q.lane + k * R;
            if (k < q.nk && n < N) {
                chunkE[chunkBase + n] = st[k];
                chunkPi[chunkBase + n] = prod[k];
            }
        }
    }
}

// E, Pi [B, C, perB]: replaces E[c] by the state entering chunk c (S_in[0] = 0, S_in[c+1] = Pi[c]·S_in[c] + E[c]).
template <typename T>
__device__ void ss_carry_impl(typename TsAcc<T>::type* E, const typename TsAcc<T>::type* Pi, long long perB, int batch, int C) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(e, perB * batch) {
        long long b = e / perB, k = e - b * perB;
        A s = 0;
        for (int c = 0; c < C; c++) {
            long long i = (b * C + c) * perB + k;
            A ev = E[i], pv = Pi[i];
            E[i] = s;
            s = pv * s + ev;
        }
    }
}

// ----------------------------------------------------------------------------------------------------- backward

// Dynamic shared memory, in accumulator elements (NT = blockDim.x, W = NT/32):
//   ck   [M][nk][NT]   the state at the start of each sub-block of the current chunk
//   sts  [T][nk][NT]   S_{t−1} at each position of the current sub-block
//   sB   [T][W][N]     per-warp sums over rows of Δ·G·x (dB)
//   sC   [T][W][N]     per-warp sums over rows of S·ĝ (dC)
//   sRow [T][NT]       per-row Σ_n G ⊙ (x·B + A·a·S_{t−1}) (d Δ), indexed by the row in the block
// Outputs: dx, dz, dInit (storage type; dInit only at sequence starts, the Java side fills empty sequences);
// dBp/dCp: [tilesPerGroup][B·L·G·N] partials, or (atomic) one [B·L·G·N] buffer added into; ddtp [tph][B][L][H]
// (∂L/∂Δ, before the softplus derivative); dAp [B][tph][H][NA] with NA = N (A per state) or 1; dDp [B][tph][H].
template <typename T>
__device__ void ss_backward_impl(const T* __restrict__ x, const T* __restrict__ dt, const T* __restrict__ Aw,
                                 const T* __restrict__ Bm, const T* __restrict__ Cm, const T* __restrict__ dtBias,
                                 const T* __restrict__ Dskip, const T* __restrict__ z, const T* __restrict__ init,
                                 const T* __restrict__ dy, const T* __restrict__ dFinal,
                                 const typename TsAcc<T>::type* __restrict__ ckpt, const int* __restrict__ cu, int S,
                                 long long xRow, long long dtRow, long long bRow, long long cRow, long long zRow,
                                 T* __restrict__ dx, long long dxRow, T* __restrict__ dz, long long dzRow, T* __restrict__ dInit,
                                 typename TsAcc<T>::type* dBp, typename TsAcc<T>::type* dCp, int atomic,
                                 typename TsAcc<T>::type* __restrict__ ddtp, typename TsAcc<T>::type* __restrict__ dAp,
                                 typename TsAcc<T>::type* __restrict__ dDp, int batch, int L, int H, int P, int G, int N,
                                 int aPerState, int softplus, int R, int hpb, int tph, int Tsub, int M) {
    typedef typename TsAcc<T>::type A;
    TS_DYNAMIC_SHARED(16, ss_smem);
    A* sh = reinterpret_cast<A*>(ss_smem);
    const SsGeom q(H, P, G, N, R, hpb, tph, blockIdx.x);
    const int b = blockIdx.z, NT = blockDim.x, W = NT >> 5, tid = threadIdx.x, warp = tid >> 5;
    const int nk = q.nk;
    A* ck = sh;
    A* sts = ck + (size_t) M * nk * NT;
    A* sB = sts + (size_t) Tsub * nk * NT;
    A* sC = sB + (size_t) Tsub * W * N;
    A* sRow = sC + (size_t) Tsub * W * N;
    const SsSeqs seqs{cu, S, L, b};
    const int Qb = M * Tsub, nC = (L + Qb - 1) / Qb;
    const long long BLGN = (long long) batch * L * G * N;

    A aN[SS_KPT], G_[SS_KPT], dA[SS_KPT];
#pragma unroll
    for (int k = 0; k < SS_KPT; k++) {
        int n = q.lane + k * R;
        aN[k] = (k < nk && n < N && aPerState) ? ts_acc(Aw[q.h * N + n]) : (A) 0;
        G_[k] = 0;
        dA[k] = 0;
    }
    const A aH = aPerState ? (A) 0 : ts_acc(Aw[q.h]);
    const A bias = dtBias ? ts_acc(dtBias[q.h]) : (A) 0;
    const A dsk = Dskip ? ts_acc(Dskip[q.h]) : (A) 0;
    A dD = 0;

    for (int c = nC - 1; c >= 0; c--) {
        const int t0 = c * Qb, t1 = min(L, t0 + Qb);
        A st[SS_KPT];
        // Phase 1: the chunk forward from its checkpoint, keeping the state at every sub-block start.
        const long long ckBase = ((long long) (b * nC + c) * q.HP + q.r) * N;
#pragma unroll
        for (int k = 0; k < SS_KPT; k++) {
            int n = q.lane + k * R;
            st[k] = (ckpt != nullptr && c > 0 && k < nk && n < N) ? ckpt[ckBase + n] : (A) 0;
        }
        int s, start, end;
        seqs.at(t0, s, start, end);
        for (int t = t0; t < t1; t++) {
            if ((t - t0) % Tsub == 0) {
                int m = (t - t0) / Tsub;
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) if (k < nk) ck[((size_t) m * nk + k) * NT + tid] = st[k];
            }
            if (t >= end) seqs.at(t, s, start, end);
            const long long row = (long long) b * L + t;
            if (t == start) {
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) {
                    int n = q.lane + k * R;
                    st[k] = (init != nullptr && k < nk && n < N) ? ts_acc(init[((long long) s * q.HP + q.r) * N + n]) : (A) 0;
                }
            }
            const A delta = ss_delta(ts_acc(dt[row * dtRow + q.h]) + bias, softplus);
            const A xv = ts_acc(x[row * xRow + q.r]);
            const A a0 = aPerState ? (A) 0 : ss_exp(delta * aH);
            const long long bi = row * bRow + q.g * N;
#pragma unroll
            for (int k = 0; k < SS_KPT; k++) {
                int n = q.lane + k * R;
                if (k < nk) {
                    bool ok = n < N;
                    A bv = ok ? ts_acc(Bm[bi + n]) : (A) 0;
                    A a = aPerState ? (ok ? ss_exp(delta * aN[k]) : (A) 1) : a0;
                    st[k] = a * st[k] + delta * xv * bv;
                }
            }
        }
        // Phase 2: sub-blocks from the last.
        const int nSub = (t1 - t0 + Tsub - 1) / Tsub;
        for (int m = nSub - 1; m >= 0; m--) {
            const int ts = t0 + m * Tsub, te = min(t1, ts + Tsub);
#pragma unroll
            for (int k = 0; k < SS_KPT; k++) if (k < nk) st[k] = ck[((size_t) m * nk + k) * NT + tid];
            seqs.at(ts, s, start, end);
            for (int t = ts; t < te; t++) {
                if (t >= end) seqs.at(t, s, start, end);
                const long long row = (long long) b * L + t;
                if (t == start) {
#pragma unroll
                    for (int k = 0; k < SS_KPT; k++) {
                        int n = q.lane + k * R;
                        st[k] = (init != nullptr && k < nk && n < N) ? ts_acc(init[((long long) s * q.HP + q.r) * N + n]) : (A) 0;
                    }
                }
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) if (k < nk) sts[((size_t) (t - ts) * nk + k) * NT + tid] = st[k];
                const A delta = ss_delta(ts_acc(dt[row * dtRow + q.h]) + bias, softplus);
                const A xv = ts_acc(x[row * xRow + q.r]);
                const A a0 = aPerState ? (A) 0 : ss_exp(delta * aH);
                const long long bi = row * bRow + q.g * N;
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) {
                    int n = q.lane + k * R;
                    if (k < nk) {
                        bool ok = n < N;
                        A bv = ok ? ts_acc(Bm[bi + n]) : (A) 0;
                        A a = aPerState ? (ok ? ss_exp(delta * aN[k]) : (A) 1) : a0;
                        st[k] = a * st[k] + delta * xv * bv;
                    }
                }
            }
            // The adjoint backwards through the sub-block.
            seqs.at(te - 1, s, start, end);
            for (int t = te - 1; t >= ts; t--) {
                if (t < start) seqs.at(t, s, start, end);
                const int tt = t - ts;
                const long long row = (long long) b * L + t;
                const long long yi = row * q.HP + q.r;
                if (t + 1 == end) {  // the last position of sequence s: the adjoint starts from d final state
#pragma unroll
                    for (int k = 0; k < SS_KPT; k++) {
                        int n = q.lane + k * R;
                        G_[k] = (dFinal != nullptr && q.valid && k < nk && n < N) ? ts_acc(dFinal[((long long) s * q.HP + q.r) * N + n]) : (A) 0;
                    }
                }
                const A pre = ts_acc(dt[row * dtRow + q.h]) + bias;
                const A delta = ss_delta(pre, softplus);
                const A xv = q.valid ? ts_acc(x[row * xRow + q.r]) : (A) 0;
                const A dyv = q.valid ? ts_acc(dy[yi]) : (A) 0;
                const A a0 = aPerState ? (A) 0 : ss_exp(delta * aH);
                const long long bi = row * bRow + q.g * N, ci = row * cRow + q.g * N;
                A bv[SS_KPT], cv[SS_KPT], a[SS_KPT], sp[SS_KPT], sc[SS_KPT];
                A yh = 0;
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) {
                    int n = q.lane + k * R;
                    bool ok = k < nk && n < N;
                    bv[k] = ok ? ts_acc(Bm[bi + n]) : (A) 0;
                    cv[k] = ok ? ts_acc(Cm[ci + n]) : (A) 0;
                    a[k] = aPerState ? (ok ? ss_exp(delta * aN[k]) : (A) 1) : a0;
                    sp[k] = k < nk ? sts[((size_t) tt * nk + k) * NT + tid] : (A) 0;
                    sc[k] = a[k] * sp[k] + delta * xv * bv[k];
                    yh += sc[k] * cv[k];
                }
                A gy = dyv;
                if (z != nullptr) {
                    yh = ss_row_sum(yh, R) + dsk * xv;
                    A zv = q.valid ? ts_acc(z[row * zRow + q.r]) : (A) 0;
                    A sg = ss_sigmoid(zv);
                    gy = dyv * zv * sg;
                    if (q.valid && q.lane == 0) dz[row * dzRow + q.r] = ts_from_acc<T>(dyv * yh * sg * ((A) 1 + zv * ((A) 1 - sg)));
                }
                A dxp = 0, rowp = 0;
                const A aS = aPerState ? (A) 0 : aH;
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) {
                    G_[k] += gy * cv[k];
                    dxp += delta * G_[k] * bv[k];
                    A decayTerm = G_[k] * a[k] * sp[k];
                    rowp += G_[k] * xv * bv[k] + (aPerState ? aN[k] : aS) * decayTerm;
                    dA[k] += delta * decayTerm;
                }
                dxp = ss_row_sum(dxp, R);
                rowp = ss_row_sum(rowp, R);
                if (q.valid && q.lane == 0) {
                    dx[row * dxRow + q.r] = ts_from_acc<T>(dxp + dsk * gy);
                    dD += gy * xv;
                }
                if (q.lane == 0) sRow[(size_t) tt * NT + q.i] = q.valid ? rowp : (A) 0;
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) {
                    if (k < nk) {  // nk is block-uniform, so the shuffles below run on full warps
                        A cb = q.valid ? delta * G_[k] * xv : (A) 0;
                        A cc = q.valid ? sc[k] * gy : (A) 0;
                        cb = ss_cross_rows(cb, R);
                        cc = ss_cross_rows(cc, R);
                        int n = q.lane + k * R;
                        if ((tid & 31) < R && n < N) {
                            sB[((size_t) tt * W + warp) * N + n] = cb;
                            sC[((size_t) tt * W + warp) * N + n] = cc;
                        }
                    }
                }
#pragma unroll
                for (int k = 0; k < SS_KPT; k++) G_[k] *= a[k];
                if (t == start) {  // G is now ∂L/∂S_{start−1}, the gradient of the sequence's initial state
                    if (dInit != nullptr && q.valid) {
#pragma unroll
                        for (int k = 0; k < SS_KPT; k++) {
                            int n = q.lane + k * R;
                            if (k < nk && n < N) dInit[((long long) s * q.HP + q.r) * N + n] = ts_from_acc<T>(G_[k]);
                        }
                    }
#pragma unroll
                    for (int k = 0; k < SS_KPT; k++) G_[k] = 0;
                }
            }
            __syncthreads();
            // Flush the sub-block's per-position sums.
            const int cnt = te - ts;
            for (int e = tid; e < cnt * N; e += NT) {
                int tt = e / N, n = e - tt * N;
                A vb = 0, vc = 0;
                for (int w = 0; w < W; w++) {
                    vb += sB[((size_t) tt * W + w) * N + n];
                    vc += sC[((size_t) tt * W + w) * N + n];
                }
                long long o = (((long long) b * L + ts + tt) * G + q.g) * N + n;
                if (atomic) {
                    atomicAdd(dBp + o, vb);
                    atomicAdd(dCp + o, vc);
                } else {
                    dBp[q.tileInGroup * BLGN + o] = vb;
                    dCp[q.tileInGroup * BLGN + o] = vc;
                }
            }
            for (int e = tid; e < cnt * q.nhb; e += NT) {
                int tt = e / q.nhb, hl = e - tt * q.nhb;
                int i0 = tph > 1 ? 0 : hl * P, i1 = tph > 1 ? q.rows : i0 + P;
                A v = 0;
                for (int i = i0; i < i1; i++) v += sRow[(size_t) tt * NT + i];
                ddtp[(((long long) q.pt * batch + b) * L + ts + tt) * H + q.h0 + hl] = v;
            }
            __syncthreads();
        }
    }
    // dA and dD of this block: per (head, n) sums over the head's rows in the block.
    A* red = sts;  // rows·N ≤ NT·nk entries
    const int NA = aPerState ? N : 1;
    if (aPerState) {
#pragma unroll
        for (int k = 0; k < SS_KPT; k++) {
            int n = q.lane + k * R;
            if (k < nk && n < N && q.valid) red[(size_t) q.i * N + n] = dA[k];
        }
    } else {
        A v = 0;
#pragma unroll
        for (int k = 0; k < SS_KPT; k++) v += dA[k];
        v = ss_row_sum(v, R);
        if (q.lane == 0 && q.valid) red[q.i] = v;
    }
    if (q.lane == 0) sRow[q.i] = q.valid ? dD : (A) 0;
    __syncthreads();
    for (int e = tid; e < q.nhb * NA; e += NT) {
        int hl = e / NA, n = e - hl * NA;
        int i0 = tph > 1 ? 0 : hl * P, i1 = tph > 1 ? q.rows : i0 + P;
        A v = 0;
        for (int i = i0; i < i1; i++) v += aPerState ? red[(size_t) i * N + n] : red[i];
        dAp[(((long long) b * tph + q.pt) * H + q.h0 + hl) * NA + n] = v;
    }
    for (int hl = tid; hl < q.nhb; hl += NT) {
        int i0 = tph > 1 ? 0 : hl * P, i1 = tph > 1 ? q.rows : i0 + P;
        A v = 0;
        for (int i = i0; i < i1; i++) v += sRow[i];
        dDp[((long long) b * tph + q.pt) * H + q.h0 + hl] = v;
    }
}

// out[c] = Σ_r in[r·cols + c] in a fixed order (deterministic), for r < rows; block = 32 columns × (NT/32) row lanes.
// out is row-strided: column c lies at (c / width)·stride + c % width (width = stride = cols when contiguous).
template <typename T>
__device__ void ss_colsum_impl(const typename TsAcc<T>::type* __restrict__ in, T* __restrict__ out, long long rows, long long cols,
                               long long width, long long stride) {
    typedef typename TsAcc<T>::type A;
    __shared__ A part[1024];
    const int cl = threadIdx.x & 31, rl = threadIdx.x >> 5, lanes = blockDim.x >> 5;
    for (long long c0 = (long long) blockIdx.x * 32; c0 < cols; c0 += (long long) gridDim.x * 32) {
        long long c = c0 + cl;
        A v = 0;
        if (c < cols) for (long long r = rl; r < rows; r += lanes) v += in[r * cols + c];
        part[threadIdx.x] = v;
        __syncthreads();
        if (rl == 0 && c < cols) {
            A sum = 0;
            for (int j = 0; j < lanes; j++) sum += part[j * 32 + cl];
            out[(c / width) * stride + c % width] = ts_from_acc<T>(sum);
        }
        __syncthreads();
    }
}

// ddt[e] = Σ_pt ddtp[pt][e] · Δ'(dt + dtBias) for e over B·L·H; the Acc value is also left in ddtp[0][e] (for the
// dtBias column sum).
template <typename T>
__device__ void ss_ddt_finish_impl(typename TsAcc<T>::type* ddtp, const T* __restrict__ dt, long long dtRow,
                                   const T* __restrict__ dtBias, T* __restrict__ ddt, long long ddtRow, long long n, int H,
                                   int tph, int softplus) {
    typedef typename TsAcc<T>::type A;
    TS_GRID_LOOP(e, n) {
        A v = 0;
        for (int pt = 0; pt < tph; pt++) v += ddtp[pt * n + e];
        long long row = e / H;
        int h = (int) (e - row * H);
        A pre = ts_acc(dt[row * dtRow + h]) + (dtBias ? ts_acc(dtBias[h]) : (A) 0);
        v *= ss_delta_grad(pre, softplus);
        ddtp[e] = v;
        ddt[row * ddtRow + h] = ts_from_acc<T>(v);
    }
}

#define SS_ACC_PTR(p) ((typename TsAcc<T>::type*) (p))

TS_FLOAT_ENTRIES(ss_forward,
                 (const void* x, const void* dt, const void* Aw, const void* Bm, const void* Cm, const void* dtBias,
                  const void* Dskip, const void* z, const void* init, void* y, void* fin, void* chunkE, void* chunkPi,
                  const int* cu, int S, long long xRow, long long dtRow, long long bRow, long long cRow, long long zRow,
                  int L, int H, int P, int G, int N, int aPerState, int softplus, int R, int hpb, int tph, int Q, int mode),
                 ((const T*) x, (const T*) dt, (const T*) Aw, (const T*) Bm, (const T*) Cm, (const T*) dtBias,
                  (const T*) Dskip, (const T*) z, (const T*) init, (T*) y, (T*) fin, SS_ACC_PTR(chunkE),
                  SS_ACC_PTR(chunkPi), cu, S, xRow, dtRow, bRow, cRow, zRow, L, H, P, G, N, aPerState, softplus, R, hpb,
                  tph, Q, mode))
TS_FLOAT_ENTRIES(ss_carry, (void* E, const void* Pi, long long perB, int batch, int C),
                 (SS_ACC_PTR(E), SS_ACC_PTR(Pi), perB, batch, C))
TS_FLOAT_ENTRIES(ss_backward,
                 (const void* x, const void* dt, const void* Aw, const void* Bm, const void* Cm, const void* dtBias,
                  const void* Dskip, const void* z, const void* init, const void* dy, const void* dFinal,
                  const void* ckpt, const int* cu, int S, long long xRow, long long dtRow, long long bRow, long long cRow,
                  long long zRow, void* dx, long long dxRow, void* dz, long long dzRow, void* dInit, void* dBp, void* dCp,
                  int atomic, void* ddtp, void* dAp, void* dDp, int batch, int L, int H, int P, int G, int N,
                  int aPerState, int softplus, int R, int hpb, int tph, int Tsub, int M),
                 ((const T*) x, (const T*) dt, (const T*) Aw, (const T*) Bm, (const T*) Cm, (const T*) dtBias,
                  (const T*) Dskip, (const T*) z, (const T*) init, (const T*) dy, (const T*) dFinal,
                  SS_ACC_PTR(ckpt), cu, S, xRow, dtRow, bRow, cRow, zRow, (T*) dx, dxRow, (T*) dz, dzRow, (T*) dInit,
                  SS_ACC_PTR(dBp), SS_ACC_PTR(dCp), atomic,
                  SS_ACC_PTR(ddtp), SS_ACC_PTR(dAp), SS_ACC_PTR(dDp), batch, L, H, P, G, N, aPerState, softplus, R,
                  hpb, tph, Tsub, M))
TS_FLOAT_ENTRIES(ss_colsum, (const void* in, void* out, long long rows, long long cols, long long width, long long stride),
                 (SS_ACC_PTR(in), (T*) out, rows, cols, width, stride))
TS_FLOAT_ENTRIES(ss_ddt_finish, (void* ddtp, const void* dt, long long dtRow, const void* dtBias, void* ddt, long long ddtRow,
                                 long long n, int H, int tph, int softplus),
                 (SS_ACC_PTR(ddtp), (const T*) dt, dtRow, (const T*) dtBias, (T*) ddt, ddtRow, n, H, tph, softplus))
