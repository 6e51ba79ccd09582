// Runs CUDA kernels compiled for the host (see cuda_emulation.h): a launch's blocks are shared out, in increasing
// order, between the calling thread and a few workers, and a block's threads run as fibers that switch only at barriers and warp-collective
// operations. The Java side (dev.tessera.runtime.cuda.KernelEmulator) calls tessera_emu_launch with the same
// argument array a driver-API launch takes, and tessera_emu_gemm in place of cuBLAS.
#include "cuda_emulation.h"

#include <sys/mman.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

// Switching fibers: save the callee-saved registers (and the SSE/x87 control words) on the current stack, store its
// pointer in *save, load `load` and pop the same from it. A fiber switches a few times per thread at most, but a grid
// has hundreds of thousands of threads; ucontext's swapcontext makes a system call each time and was 20× slower.
#if !defined(__x86_64__)
#error "the CUDA emulator's fiber switch is written for x86-64"
#endif
extern "C" void tessera_emu_switch(void** save, void* load);
asm(R"(
    .text
    .globl tessera_emu_switch
    .hidden tessera_emu_switch
    .type tessera_emu_switch, @function
tessera_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size tessera_emu_switch, .-tessera_emu_switch
)");

namespace tessera_emu {
thread_local Fiber* current;
thread_local dim3 block_idx, block_dim, grid_dim;

namespace {
constexpr size_t STACK_BYTES = 256 * 1024; // per thread; reserved, committed only as touched
constexpr int MAX_THREADS = 1024;

enum class State { Runnable, AtBarrier, AtWarp, Done };

struct FiberImpl : Fiber {
    void* sp; // its saved stack pointer while switched out
    State state;
    char* stack = nullptr;
};

struct Warp {
    uint64_t slots[32];
    uint32_t words[32][8]; // fragments of the tensor-core operations
    unsigned mask = 0, arrived = 0, existing = 0, initial = 0;
    const char* what = nullptr;
};

struct Block {
    FiberImpl fibers[MAX_THREADS];
    Warp warps[MAX_THREADS / 32];
    void* scheduler = nullptr; // the scheduler's saved stack pointer while a fiber runs
    uint32_t mxcsr = 0; // the SSE and x87 control words the fibers start with: the caller's
    uint16_t fpucw = 0;
    int threads = 0, live = 0;
    int barrierArrived = 0, barrierLine = 0;
    const char* barrierFile = nullptr;
    unsigned char* shared = nullptr;
    size_t sharedCapacity = 0;
    void* fn = nullptr;
    Invoker invoke = nullptr;
    void** args = nullptr;
    bool failed = false;
    std::string error;

    Block() {
        asm volatile("stmxcsr %0" : "=m"(mxcsr));
        asm volatile("fnstcw %0" : "=m"(fpucw));
    }
};

thread_local Block* block;

Block& current_block() {
    if (block == nullptr) block = new Block(); // one per OS thread, kept: its stacks are reused by every launch
    return *block;
}

FiberImpl* me() { return static_cast<FiberImpl*>(current); }

std::string where(const Fiber* f) {
    char buf[96];
    snprintf(buf, sizeof buf, "thread (%u,%u,%u) of block (%u,%u,%u)", f->tid.x, f->tid.y, f->tid.z, block_idx.x, block_idx.y, block_idx.z);
    return buf;
}

// Stops the launch from inside a fiber; the fiber is never resumed (its stack is simply reused).
[[noreturn]] void fail_here(const std::string& message) {
    Block& b = *block;
    if (!b.failed) {
        b.failed = true;
        b.error = message;
    }
    tessera_emu_switch(&me()->sp, b.scheduler);
    __builtin_unreachable();
}

void release_barrier(Block& b) {
    for (int i = 0; i < b.threads; i++)
        if (b.fibers[i].state == State::AtBarrier) b.fibers[i].state = State::Runnable;
    b.barrierArrived = 0;
}

[[noreturn]] void fiber_entry() {
    Block& b = *block;
    b.invoke(b.fn, b.args);
    me()->state = State::Done;
    tessera_emu_switch(&me()->sp, b.scheduler); // never resumed
    __builtin_unreachable();
}

// A fresh fiber's stack, laid out as tessera_emu_switch leaves a switched-out one, so that switching to it "returns"
// into fiber_entry with the stack aligned as after a call.
void* initial_stack(Block& b, char* stack) {
    uintptr_t* sp = reinterpret_cast<uintptr_t*>(stack + STACK_BYTES);
    *--sp = 0;                                          // fiber_entry's would-be return address (it never returns)
    *--sp = reinterpret_cast<uintptr_t>(&fiber_entry); // 16-byte aligned, so rsp ≡ 8 (mod 16) at entry
    for (int r = 0; r < 6; r++) *--sp = 0;             // rbp, rbx, r12–r15
    *--sp = (uintptr_t) b.mxcsr | ((uintptr_t) b.fpucw << 32); // MXCSR at 0(%rsp), the x87 word at 4(%rsp)
    return sp;
}

void on_exit(Block& b, FiberImpl* f) {
    b.live--;
    Warp& w = b.warps[f->linear >> 5];
    unsigned bit = 1u << (f->linear & 31);
    if (w.arrived != 0 && (w.mask & bit)) {
        b.failed = true;
        b.error = where(f) + " exited while lanes of its warp wait for it in " + w.what;
        return;
    }
    w.existing &= ~bit; // a later shuffle's full mask no longer expects it
    if (b.barrierArrived > 0 && b.barrierArrived == b.live) release_barrier(b);
}

std::string deadlock(Block& b) {
    int atBarrier = 0, atWarp = 0, firstBarrier = -1, firstWarp = -1;
    for (int i = 0; i < b.threads; i++) {
        State st = b.fibers[i].state;
        if (st == State::AtBarrier && atBarrier++ == 0) firstBarrier = i;
        if (st == State::AtWarp && atWarp++ == 0) firstWarp = i;
    }
    std::string s = "deadlock in block (" + std::to_string(block_idx.x) + "," + std::to_string(block_idx.y) + "," + std::to_string(block_idx.z) + "):";
    if (atBarrier > 0) {
        s += " " + std::to_string(atBarrier) + " thread(s) at __syncthreads (" + b.barrierFile + ":" + std::to_string(b.barrierLine)
             + "; thread " + std::to_string(firstBarrier) + " first)";
    }
    if (atWarp > 0) {
        s += std::string(atBarrier > 0 ? "," : "") + " " + std::to_string(atWarp) + " thread(s) at " + b.warps[firstWarp >> 5].what + " (thread "
             + std::to_string(firstWarp) + " first) waiting for lanes that never arrive";
    }
    return s;
}

bool run_block(Block& b) {
    for (int i = 0; i < b.threads; i++) {
        FiberImpl& f = b.fibers[i];
        if (f.stack == nullptr) {
            void* p = mmap(nullptr, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                b.error = "cannot map a fiber stack";
                return false;
            }
            mprotect(p, 4096, PROT_NONE); // a guard page: a stack overflow faults instead of writing over a neighbour
            f.stack = static_cast<char*>(p);
        }
        f.linear = i;
        f.tid.x = i % block_dim.x;
        f.tid.y = (i / block_dim.x) % block_dim.y;
        f.tid.z = i / (block_dim.x * block_dim.y);
        f.state = State::Runnable;
        f.sp = initial_stack(b, f.stack);
    }
    for (int w = 0; w < (b.threads + 31) / 32; w++) {
        int lanes = b.threads - w * 32 < 32 ? b.threads - w * 32 : 32;
        b.warps[w].existing = b.warps[w].initial = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
        b.warps[w].arrived = 0;
        b.warps[w].mask = 0;
    }
    b.live = b.threads;
    b.barrierArrived = 0;
    while (b.live > 0) {
        bool ran = false;
        // Blocks of odd linear index run their threads last to first: a read of shared memory that another thread
        // writes without a barrier in between sees the write in one order and not the other, so the tests, which
        // launch several blocks, fail on such a race instead of passing by the luck of a fixed order.
        bool reverse = (block_idx.x + block_idx.y + block_idx.z) & 1;
        for (int k = 0; k < b.threads; k++) {
            FiberImpl& f = b.fibers[reverse ? b.threads - 1 - k : k];
            if (f.state != State::Runnable) continue;
            ran = true;
            current = &f;
            tessera_emu_switch(&b.scheduler, f.sp);
            if (b.failed) return false;
            if (f.state == State::Done) {
                on_exit(b, &f);
                if (b.failed) return false;
            }
        }
        if (!ran && b.live > 0) {
            b.error = deadlock(b);
            return false;
        }
    }
    return true;
}

// Kernels by "module/name". A module's library registers its kernels while the JVM loads it, possibly while another
// thread launches: one lock.
std::mutex registryLock;
std::unordered_map<std::string, Kernel>& registry() {
    static std::unordered_map<std::string, Kernel> kernels;
    return kernels;
}

bool find_kernel(const char* module, const char* name, Kernel* out) {
    std::lock_guard<std::mutex> lock(registryLock);
    auto it = registry().find(std::string(module) + "/" + name);
    if (it == registry().end()) return false;
    *out = it->second;
    return true;
}
} // namespace

Registrar::Registrar(const char* module, const Kernel* kernels, int count) {
    std::lock_guard<std::mutex> lock(registryLock);
    for (int i = 0; i < count; i++) registry()[std::string(module) + "/" + kernels[i].name] = kernels[i];
}

unsigned char* dynamic_shared() { return block->shared; }

int lane_id() { return current->linear & 31; }

uint64_t* warp_slots() { return block->warps[current->linear >> 5].slots; }

void fail(const char* message) { fail_here(where(current) + ": " + message); }

void fail_misaligned(const void* p, int alignment, const char* what) {
    char buf[160];
    snprintf(buf, sizeof buf, ": %s at %p, which is not %d-byte aligned (a GPU stops with CUDA_ERROR_MISALIGNED_ADDRESS)", what, p, alignment);
    fail_here(where(current) + buf);
}

void syncthreads(const char* file, int line) {
    Block& b = *block;
    if (b.barrierArrived == 0) {
        b.barrierFile = file;
        b.barrierLine = line;
    } else if (line != b.barrierLine || strcmp(file, b.barrierFile) != 0) {
        fail_here(where(current) + " reaches __syncthreads at " + file + ":" + std::to_string(line) + " while other threads of its block wait at "
                  + b.barrierFile + ":" + std::to_string(b.barrierLine) + " (a barrier in divergent code)");
    }
    b.barrierArrived++;
    if (b.barrierArrived == b.live) {
        release_barrier(b); // the last to arrive goes on at once
        return;
    }
    me()->state = State::AtBarrier;
    tessera_emu_switch(&me()->sp, b.scheduler);
}

void syncwarp(unsigned mask, const char* what) {
    Block& b = *block;
    int lane = current->linear & 31;
    Warp& w = b.warps[current->linear >> 5];
    unsigned bit = 1u << lane;
    if (!(mask & bit)) fail_here(where(current) + " calls " + what + " with a mask that leaves out its own lane");
    // Lanes past the block's last thread do not exist; those that have exited must not be named (undefined in CUDA).
    unsigned expected = mask & w.existing;
    unsigned gone = mask & w.initial & ~w.existing;
    if (gone) fail_here(where(current) + " calls " + what + " with a mask naming lanes that have exited");
    if (w.arrived == 0) {
        w.mask = expected;
        w.what = what;
    } else if (w.mask != expected || strcmp(w.what, what) != 0) {
        fail_here(where(current) + " calls " + what + " while lanes of its warp wait in " + w.what + " (a warp-collective in divergent code)");
    }
    w.arrived |= bit;
    if (w.arrived == w.mask) {
        for (int l = 0; l < 32; l++) {
            FiberImpl& f = b.fibers[(current->linear & ~31) + l];
            if (((w.mask >> l) & 1) && l != lane) f.state = State::Runnable;
        }
        w.arrived = 0;
        return;
    }
    me()->state = State::AtWarp;
    tessera_emu_switch(&me()->sp, b.scheduler);
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8j..8j+7 give the row addresses of matrix j; lane l
// receives in r[j] the pair (row l/4, columns 2(l%4), 2(l%4)+1) of matrix j, or of its transpose.
void ldmatrix_x4(unsigned* r, const void* row_address, bool transpose) {
    uint64_t* slots = warp_slots();
    int l = lane_id();
    require_aligned(row_address, 16, transpose ? "ldmatrix.trans (row address)" : "ldmatrix (row address)");
    slots[l] = (uint64_t) (uintptr_t) row_address;
    syncwarp(0xffffffffu, transpose ? "ldmatrix.trans" : "ldmatrix");
    for (int j = 0; j < 4; j++) {
        uint16_t lo, hi;
        if (!transpose) {
            const uint16_t* row = reinterpret_cast<const uint16_t*>(slots[8 * j + l / 4]);
            lo = row[2 * (l % 4)];
            hi = row[2 * (l % 4) + 1];
        } else {
            lo = reinterpret_cast<const uint16_t*>(slots[8 * j + 2 * (l % 4)])[l / 4];
            hi = reinterpret_cast<const uint16_t*>(slots[8 * j + 2 * (l % 4) + 1])[l / 4];
        }
        r[j] = (unsigned) lo | ((unsigned) hi << 16);
    }
    syncwarp(0xffffffffu, transpose ? "ldmatrix.trans" : "ldmatrix");
}

namespace {
float bf16_half(uint32_t word, int half) {
    uint32_t u = half ? (word & 0xffff0000u) : (word << 16);
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
} // namespace

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 with the fragment layouts of the PTX ISA (groupID g = lane/4,
// t = lane%4): A regs {(g, 2t..), (g+8, 2t..), (g, 2t+8..), (g+8, 2t+8..)}; B regs {(k 2t.., n g), (k 2t+8.., n g)};
// C/D {(g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)}. Products are summed in float in k order.
void mma_m16n8k16_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
    Block& b = *block;
    Warp& w = b.warps[current->linear >> 5];
    int l = lane_id();
    for (int i = 0; i < 4; i++) w.words[l][i] = a[i];
    w.words[l][4] = b0;
    w.words[l][5] = b1;
    syncwarp(0xffffffffu, "mma.sync");
    auto A = [&](int row, int k) {
        int lane = (row % 8) * 4 + (k % 8) / 2, reg = (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
        return bf16_half(w.words[lane][reg], k & 1);
    };
    auto B = [&](int k, int n) {
        int lane = n * 4 + (k % 8) / 2;
        return bf16_half(w.words[lane][k >= 8 ? 5 : 4], k & 1);
    };
    int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; i++) {
        int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
        float s = d[i];
        for (int k = 0; k < 16; k++) s += A(row, k) * B(k, col);
        d[i] = s;
    }
    syncwarp(0xffffffffu, "mma.sync");
}
} // namespace tessera_emu

using namespace tessera_emu;

namespace {
// One launch: its blocks are taken in increasing linear order (x fastest) by the calling thread and the workers.
struct Grid {
    Kernel kernel;
    void** args;
    dim3 gridShape, blockShape;
    int threads, sharedBytes;
    long long blocks;
    std::atomic<long long> next{0};
    std::atomic<bool> failed{false};
    std::mutex errorLock;
    std::string error;
};

void run_blocks(Grid& g) {
    Block& b = current_block();
    if ((size_t) g.sharedBytes > b.sharedCapacity) {
        free(b.shared);
        b.shared = static_cast<unsigned char*>(aligned_alloc(128, ((size_t) g.sharedBytes + 127) / 128 * 128));
        b.sharedCapacity = g.sharedBytes;
    }
    b.fn = g.kernel.fn;
    b.invoke = g.kernel.invoke;
    b.args = g.args;
    b.threads = g.threads;
    grid_dim = g.gridShape;
    block_dim = g.blockShape;
    for (long long i; !g.failed.load(std::memory_order_relaxed) && (i = g.next.fetch_add(1)) < g.blocks;) {
        block_idx = {(unsigned) (i % g.gridShape.x), (unsigned) (i / g.gridShape.x % g.gridShape.y), (unsigned) (i / ((long long) g.gridShape.x * g.gridShape.y))};
        if (g.sharedBytes > 0) std::memset(b.shared, 0xff, g.sharedBytes);
        b.failed = false;
        b.error.clear();
        if (!run_block(b)) {
            std::lock_guard<std::mutex> lock(g.errorLock);
            if (!g.failed.exchange(true)) g.error = b.error;
        }
    }
    current = nullptr;
}

// Worker threads that run a grid's blocks beside the caller: as many as the machine has cores, less the caller
// (TESSERA_EMU_THREADS sets the total; 1 runs every block on the caller, in order).
class Workers {
  public:
    Workers() {
        int n = (int) std::thread::hardware_concurrency();
        if (const char* e = getenv("TESSERA_EMU_THREADS")) n = atoi(e);
        n = n < 1 ? 1 : n > 16 ? 16 : n;
        for (int i = 1; i < n; i++) threads_.emplace_back([this] { loop(); });
    }

    void run(Grid& g) {
        std::unique_lock<std::mutex> one(launchLock_); // one grid at a time: a GPU stream runs its kernels in order
        if (threads_.empty() || g.blocks == 1) {
            run_blocks(g);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(m_);
            grid_ = &g;
            busy_ = (int) threads_.size();
            generation_++;
        }
        wake_.notify_all();
        run_blocks(g);
        std::unique_lock<std::mutex> lock(m_);
        done_.wait(lock, [this] { return busy_ == 0; });
        grid_ = nullptr;
    }

  private:
    void loop() {
        long long seen = 0;
        for (;;) {
            Grid* g;
            {
                std::unique_lock<std::mutex> lock(m_);
                wake_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                g = grid_;
            }
            run_blocks(*g);
            std::lock_guard<std::mutex> lock(m_);
            if (--busy_ == 0) done_.notify_one();
        }
    }

    std::vector<std::thread> threads_;
    std::mutex launchLock_, m_;
    std::condition_variable wake_, done_;
    Grid* grid_ = nullptr;
    long long generation_ = 0;
    int busy_ = 0;
};

Workers& workers() {
    static Workers* w = new Workers(); // never destroyed: its threads outlive static destruction at exit
    return *w;
}
} // namespace

namespace {
void copy_error(const std::string& message, char* error, int capacity) {
    if (capacity <= 0) return;
    size_t n = message.size() < (size_t) capacity - 1 ? message.size() : (size_t) capacity - 1;
    std::memcpy(error, message.data(), n);
    error[n] = 0;
}
} // namespace

extern "C" {
/**
 * Runs kernel `name` on grid × block threads with `sharedBytes` of dynamic shared memory (filled with 0xFF bytes
 * first, as uninitialised memory reads as NaN) and driver-API arguments. Returns 0, or 1 with a message in `error`.
 */
int tessera_emu_launch(const char* module, const char* name, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, void** args, char* error,
                       int errorCapacity) {
    Kernel kernel;
    if (!find_kernel(module, name, &kernel)) {
        copy_error(std::string("no emulated kernel ") + name + " in module " + module, error, errorCapacity);
        return 1;
    }
    long long threads = (long long) bx * by * bz;
    if (threads <= 0 || threads > 1024 || gx <= 0 || gy <= 0 || gz <= 0) {
        copy_error(std::string(name) + ": bad launch shape", error, errorCapacity);
        return 1;
    }
    Grid grid;
    grid.kernel = kernel;
    grid.args = args;
    grid.gridShape = {(unsigned) gx, (unsigned) gy, (unsigned) gz};
    grid.blockShape = {(unsigned) bx, (unsigned) by, (unsigned) bz};
    grid.threads = (int) threads;
    grid.sharedBytes = sharedBytes;
    grid.blocks = (long long) gx * gy * gz;
    workers().run(grid);
    if (grid.failed.load()) {
        copy_error(std::string(name) + ": " + grid.error, error, errorCapacity);
        return 1;
    }
    return 0;
}

namespace {
// cuBLAS data types (library_types.h) and compute types (cublas_api.h).
constexpr int R_32F = 0, R_64F = 1, R_16F = 2, R_16BF = 14;
constexpr int COMPUTE_32F_FAST_TF32 = 77, COMPUTE_64F = 70;

double load(const void* p, int type, long long i) {
    switch (type) {
        case R_32F: return static_cast<const float*>(p)[i];
        case R_64F: return static_cast<const double*>(p)[i];
        case R_16F: return __half2float(static_cast<const __half*>(p)[i]);
        default: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    }
}
void store(void* p, int type, long long i, double v) {
    switch (type) {
        case R_32F: static_cast<float*>(p)[i] = (float) v; break;
        case R_64F: static_cast<double*>(p)[i] = v; break;
        case R_16F: static_cast<__half*>(p)[i] = __float2half_rn((float) v); break;
        default: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn((float) v); break;
    }
}
// TF32 keeps 10 bits of mantissa: round the float to nearest even there.
float tf32(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
    std::memcpy(&x, &u, 4);
    return x;
}
} // namespace

/**
 * cublasGemmStridedBatchedEx, column-major: C = alpha·op(A)·op(B) + beta·C for each batch. Sums in double for
 * COMPUTE_64F and in float otherwise (inputs rounded to TF32 for the fast TF32 type); with beta = 0, C is not read.
 */
int tessera_emu_gemm(int transA, int transB, int m, int n, int k, double alpha, const void* A, int aType, int lda, long long strideA,
                     const void* B, int bType, int ldb, long long strideB, double beta, void* C, int cType, int ldc, long long strideC,
                     int batch, int computeType) {
    bool f64 = computeType == COMPUTE_64F, fast = computeType == COMPUTE_32F_FAST_TF32;
    for (int q = 0; q < batch; q++) {
        const char* a = static_cast<const char*>(A);
        const char* bb = static_cast<const char*>(B);
        long long ao = q * strideA, bo = q * strideB, co = q * strideC;
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double s64 = 0;
                float s32 = 0;
                for (int p = 0; p < k; p++) {
                    long long ai = ao + (transA == 0 ? i + (long long) p * lda : p + (long long) i * lda);
                    long long bi = bo + (transB == 0 ? p + (long long) j * ldb : j + (long long) p * ldb);
                    if (f64) {
                        s64 += load(a, aType, ai) * load(bb, bType, bi);
                    } else {
                        float x = (float) load(a, aType, ai), y = (float) load(bb, bType, bi);
                        if (fast) { x = tf32(x); y = tf32(y); }
                        s32 += x * y;
                    }
                }
                double s = f64 ? s64 : (double) s32;
                long long ci = co + i + (long long) j * ldc;
                double v = f64 ? alpha * s : (double) ((float) alpha * (float) s);
                if (beta != 0) v = f64 ? v + beta * load(C, cType, ci) : (double) ((float) v + (float) beta * (float) load(C, cType, ci));
                store(C, cType, ci, v);
            }
        }
    }
    return 0;
}
}

// Handlers of g++'s -fsanitize=alignment,bounds, with which the kernels' libraries are compiled (and linked without
// the sanitizer's own runtime, so these definitions are the ones they call). Layouts from the sanitizer ABI that GCC
// and Clang share.
namespace {
struct UbsanSourceLocation {
    const char* file;
    uint32_t line, column;
};
struct UbsanTypeDescriptor {
    uint16_t kind, info;
    char name[1];
};
struct UbsanTypeMismatch {
    UbsanSourceLocation location;
    const UbsanTypeDescriptor* type;
    unsigned char logAlignment, checkKind;
};
struct UbsanOutOfBounds {
    UbsanSourceLocation location;
    const UbsanTypeDescriptor* arrayType;
    const UbsanTypeDescriptor* indexType;
};
const char* const ACCESS[] = {"load", "store", "reference to", "member access through", "member call on", "construction at",
                              "downcast of", "downcast of", "upcast of", "cast of", "assignment of", "dynamic operation on"};
} // namespace

// A load or store through a pointer not aligned to its type: it faults on a GPU, while x86 would carry it out.
extern "C" __attribute__((visibility("default"))) void __ubsan_handle_type_mismatch_v1(void* data, uintptr_t pointer) {
    auto* d = static_cast<const UbsanTypeMismatch*>(data);
    int alignment = 1 << d->logAlignment;
    if (alignment <= 1 || (pointer & (uintptr_t) (alignment - 1)) == 0) return; // a check this handler was not built for
    const char* access = d->checkKind < sizeof ACCESS / sizeof ACCESS[0] ? ACCESS[d->checkKind] : "access to";
    const char* file = d->location.file == nullptr ? "?" : d->location.file;
    const char* slash = std::strrchr(file, '/');
    char what[320];
    snprintf(what, sizeof what, "%s %s at %s:%u", access, d->type == nullptr ? "a value" : d->type->name, slash ? slash + 1 : file, d->location.line);
    if (tessera_emu::block != nullptr && tessera_emu::current != nullptr) tessera_emu::fail_misaligned((const void*) pointer, alignment, what);
    std::fprintf(stderr, "[emulator] misaligned %s (%p, needs %d-byte alignment) outside a kernel\n", what, (void*) pointer, alignment);
}

// The handler of -fsanitize=bounds: an index outside an array whose size the compiler knows (shared and local arrays,
// mostly), which a GPU would read or write through silently, or fault on.
extern "C" __attribute__((visibility("default"))) void __ubsan_handle_out_of_bounds(void* data, uintptr_t index) {
    auto* d = static_cast<const UbsanOutOfBounds*>(data);
    const char* file = d->location.file == nullptr ? "?" : d->location.file;
    const char* slash = std::strrchr(file, '/');
    // Index types are integers of at most 64 bits, passed by value; signed ones as their two's complement bits.
    bool isSigned = d->indexType != nullptr && (d->indexType->info & 1);
    char value[24], what[320];
    if (isSigned) snprintf(value, sizeof value, "%lld", (long long) (intptr_t) index);
    else snprintf(value, sizeof value, "%llu", (unsigned long long) index);
    snprintf(what, sizeof what, ": index %s is outside %s at %s:%u", value, d->arrayType == nullptr ? "an array" : d->arrayType->name,
             slash ? slash + 1 : file, d->location.line);
    if (tessera_emu::block != nullptr && tessera_emu::current != nullptr) tessera_emu::fail_here(tessera_emu::where(tessera_emu::current) + what);
    std::fprintf(stderr, "[emulator] %s outside a kernel\n", what + 2);
}
