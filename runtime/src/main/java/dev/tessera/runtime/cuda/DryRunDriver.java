package dev.tessera.runtime.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A stand-in GPU for machines without one (see {@link CudaDevice#installDryRun}): memory is host memory at its native
 * address, zero-filled whenever it is handed out (fresh or from the cache, so what no kernel wrote always reads 0),
 * copies are host copies, and a launch runs nothing but is checked against the kernel's PTX signature: the entry
 * must exist, and the arguments must match its parameters in number and size (a 4-byte int where the kernel takes 8
 * bytes is the classic silent bug of driver-API launches). It reports as an sm_90 device with 132 SMs and 227 KiB of
 * opt-in shared memory, like an H100/H200.
 *
 * <p>A kernel whose results the host reads back to size later work (how many chunks a routing produced) may be given
 * an {@link Emulation}: a host stand-in that writes those results, so that the launches after it see the shapes a
 * GPU would give them instead of empty ones.
 *
 * <p>Made with a {@link KernelEmulator} ({@link CudaDevice#installEmulator}), it runs every checked launch and GEMM on
 * the CPU as well, with the CUDA C kernels themselves; memory is then handed out filled with NaN bytes, fresh or
 * reused, as a GPU hands out whatever it held.
 */
public final class DryRunDriver implements CudaDriver {
    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z0-9_]+)\\s*\\(([^)]*)\\)", Pattern.DOTALL);
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+(?:\\.align\\s+(\\d+)\\s+)?\\.([a-z]+)(\\d+)\\s+[A-Za-z0-9_]+(?:\\[(\\d+)\\])?");

    private static final Pattern MAX_THREADS = Pattern.compile("\\.(?:maxntid|reqntid)\\s+(\\d+)(?:\\s*,\\s*(\\d+))?(?:\\s*,\\s*(\\d+))?");

    /**
     * A kernel's parameters: sizes in bytes, in order; {@code module} is the PTX module (the .cu file) that holds it;
     * {@code maxThreads} its {@code __launch_bounds__} (0: none); {@code registers} per thread and {@code staticShared}
     * bytes in the sm_90 cubin (−1: the build left no record of them).
     */
    record Signature(String module, String name, int[] sizes, int maxThreads, int registers, int staticShared) {
        Signature(String module, String name, int[] sizes) { this(module, name, sizes, 0, -1, -1); }

        Signature withResources(int registers, int staticShared) {
            return new Signature(module, name, sizes, maxThreads, registers, staticShared);
        }
    }

    /** Registers of one SM (and the most one block may hold), and the granule a warp's registers come in (sm_80/90). */
    static final int REGISTERS_PER_BLOCK = 65_536, REGISTER_GRANULE_PER_WARP = 256;
    /** Shared memory a block may use without opting in, and with (sm_90: 228 KiB per SM, 1 KiB kept by the system). */
    static final int DEFAULT_SHARED = 48 * 1024, MAX_SHARED_OPT_IN = 227 * 1024;

    /** One checked launch. */
    public record Launch(String kernel, int[] grid, int[] block, int sharedBytes) {}

    /** A host stand-in for a kernel, run after its launch passed the checks. */
    @FunctionalInterface
    public interface Emulation {
        void run(Arguments args);
    }

    /** A checked launch's grid and arguments, with access to the memory its pointers name. */
    public final class Arguments {
        private final int[] grid;
        private final ByteBuffer params;
        private final int[] offsets;
        private final int argc;

        private Arguments(int[] grid, ByteBuffer params, int[] offsets, int argc) {
            this.grid = grid;
            this.params = params;
            this.offsets = offsets;
            this.argc = argc;
        }

        public int[] grid() { return grid.clone(); }

        /** Argument {@code i} as a 64-bit value (a pointer or a {@code long long}). */
        public long int64(int i) {
            java.util.Objects.checkIndex(i, argc);
            return params.getLong(offsets[i]);
        }

        /**
         * The {@code bytes} bytes at pointer argument {@code i}, or null for a null pointer; refused unless they lie
         * inside one live allocation (a wrong argument index must not write over the JVM's memory).
         */
        public MemorySegment memory(int i, long bytes) {
            long p = int64(i);
            if (p == 0) return null;
            var e = extents.floorEntry(p);
            if (e == null || p + bytes > e.getKey() + e.getValue()) {
                throw new IllegalStateException("dry run: emulation reads " + bytes + " B at argument " + i + " = 0x" + Long.toHexString(p)
                        + ", outside every live device allocation");
            }
            return at(p, bytes);
        }
    }

    private final KernelEmulator emulator;
    private final Map<String, Emulation> emulations = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong readBacks = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong uploads = new java.util.concurrent.atomic.AtomicLong();
    private final Map<Long, Arena> live = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong liveBytes = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.ConcurrentSkipListMap<Long, Long> extents = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final Map<String, Map<String, Signature>> modules = new ConcurrentHashMap<>();
    private final Map<String, Integer> sharedOptIn = new ConcurrentHashMap<>();
    private final List<Launch> launches = Collections.synchronizedList(new ArrayList<>());
    private final DeviceMemory memory = new DeviceMemory() {
        @Override public long allocate(long bytes) {
            // Like cuMemAlloc: 0 when the request exceeds what the device reports, or the host cannot give it.
            if (bytes > totalMemory() - liveBytes.get()) return 0;
            Arena a = Arena.ofShared();
            MemorySegment s;
            try {
                s = a.allocate(Math.max(bytes, 1), 256);
            } catch (OutOfMemoryError e) {
                a.close();
                return 0;
            }
            if (emulator != null) s.fill((byte) 0xFF);
            live.put(s.address(), a);
            extents.put(s.address(), Math.max(bytes, 1));
            liveBytes.addAndGet(Math.max(bytes, 1));
            return s.address();
        }

        @Override public void reused(long address, long bytes) {
            // A GPU's memory holds what it held; under the emulator, memory no kernel wrote reads as NaN.
            at(address, bytes).fill(emulator == null ? (byte) 0 : (byte) 0xFF);
        }

        @Override public String lastError() { return "the dry run's " + (totalMemory() >> 30) + " GiB are taken or the host has no more"; }

        @Override public void free(long address) {
            Arena a = live.remove(address);
            if (a == null) throw new IllegalStateException("dry run: free of an address that was never allocated: 0x" + Long.toHexString(address));
            liveBytes.addAndGet(-extents.remove(address));
            a.close();
        }
    };

    DryRunDriver() { this(null); }

    /** With an emulator, every checked launch and GEMM also runs, on the CPU; without, nothing runs. */
    DryRunDriver(KernelEmulator emulator) { this.emulator = emulator; }

    /** True when launches run on the {@link KernelEmulator} rather than only being checked. */
    public boolean emulating() { return emulator != null; }

    /** Every launch checked so far, in order. */
    public List<Launch> launches() { return List.copyOf(launches); }

    /** The kernel names launched so far. */
    public List<String> kernelsLaunched() {
        synchronized (launches) {
            return launches.stream().map(Launch::kernel).distinct().toList();
        }
    }

    public void clear() { launches.clear(); }

    /** Runs {@code emulation} after every checked launch of {@code kernel} (replacing an earlier one). */
    public void emulate(String kernel, Emulation emulation) { emulations.put(kernel, emulation); }

    @Override public String name() { return emulator == null ? "dry run (no GPU)" : "CUDA emulator (the CUDA kernels run on the CPU)"; }

    @Override public long totalMemory() { return 80L << 30; }

    @Override public int computeCapability() { return 90; }

    @Override public int multiprocessors() { return 132; }

    @Override public int maxSharedOptin() { return MAX_SHARED_OPT_IN; }

    @Override public void makeCurrent() {}

    @Override public long streamHandle() { return 0; }

    @Override public DeviceMemory memory() { return memory; }

    private static MemorySegment at(long address, long bytes) { return MemorySegment.ofAddress(address).reinterpret(bytes); }

    @Override public void fill(long address, long bytes, byte value) { at(address, bytes).fill(value); }

    @Override public void copyDeviceToDevice(long src, long dst, long bytes) { MemorySegment.copy(at(src, bytes), 0, at(dst, bytes), 0, bytes); }

    @Override public void copyToDevice(MemorySegment src, long srcOffset, long dst, long bytes) {
        uploads.incrementAndGet();
        MemorySegment.copy(src, srcOffset, at(dst, bytes), 0, bytes);
    }

    /** Copies from the host to the device so far (through pinned staging, each also waits for the GPU on a real one). */
    public long uploads() { return uploads.get(); }

    @Override public void copyToHost(long src, MemorySegment dst, long dstOffset, long bytes) {
        readBacks.incrementAndGet();
        MemorySegment.copy(at(src, bytes), 0, dst, dstOffset, bytes);
    }

    /**
     * Copies from the device to the host so far. On a GPU each one waits for every queued kernel, and the device
     * idles while the host prepares the next launches, so a training step should need few.
     */
    public long readBacks() { return readBacks.get(); }

    @Override public void synchronize(String where) {}

    @Override public long[] memoryInfo() { return new long[] {totalMemory(), totalMemory()}; }

    /** Parses the entries and parameter sizes of a PTX text. */
    static Map<String, Signature> signatures(String module, String ptx) {
        Map<String, Signature> out = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(ptx);
        while (m.find()) {
            List<Integer> sizes = new ArrayList<>();
            Matcher p = PARAM.matcher(m.group(2));
            while (p.find()) {
                int bits = Integer.parseInt(p.group(3));
                int count = p.group(4) == null ? 1 : Integer.parseInt(p.group(4));
                sizes.add(bits / 8 * count);
            }
            // Launch bounds sit between the parameter list and the body.
            int body = ptx.indexOf('{', m.end());
            Matcher t = MAX_THREADS.matcher(ptx.substring(m.end(), body < 0 ? ptx.length() : body));
            int maxThreads = 0;
            if (t.find()) {
                maxThreads = Integer.parseInt(t.group(1));
                if (t.group(2) != null) maxThreads *= Integer.parseInt(t.group(2));
                if (t.group(3) != null) maxThreads *= Integer.parseInt(t.group(3));
            }
            out.put(m.group(1), new Signature(module, m.group(1), sizes.stream().mapToInt(Integer::intValue).toArray(), maxThreads, -1, -1));
        }
        return out;
    }

    /**
     * Adds to {@code sigs} the registers and static shared memory that {@code resources} (the build's
     * {@code <module>.sm_90.resources}: lines "entry registers sharedBytes") gives each entry.
     */
    static Map<String, Signature> withResources(Map<String, Signature> sigs, String resources) {
        Map<String, Signature> out = new LinkedHashMap<>(sigs);
        for (String line : resources.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length != 3) continue;
            Signature s = out.get(f[0]);
            if (s != null) out.put(f[0], s.withResources(Integer.parseInt(f[1]), Integer.parseInt(f[2])));
        }
        return out;
    }

    /**
     * Why a GPU of compute capability 9.0 would refuse this launch, or null: the limits on block and grid
     * dimensions, the kernel's launch bounds, the registers its block needs, and its shared memory ({@code optIn}: the
     * dynamic shared memory the kernel was allowed, 0 if it never asked).
     */
    static String launchRefusal(Signature s, int[] grid, int[] block, int dynamicShared, int optIn) {
        long threads = (long) block[0] * block[1] * block[2];
        String what = s.name() + " with grid " + java.util.Arrays.toString(grid) + " and block " + java.util.Arrays.toString(block);
        if (block[0] <= 0 || block[1] <= 0 || block[2] <= 0 || grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0) return what + ": an empty grid or block";
        if (block[0] > 1024 || block[1] > 1024 || block[2] > 64 || threads > 1024) {
            return what + ": a block holds at most 1024 threads (x, y ≤ 1024, z ≤ 64) (CUDA_ERROR_INVALID_VALUE)";
        }
        if (grid[1] > 65_535 || grid[2] > 65_535) return what + ": grid y and z are at most 65,535 (CUDA_ERROR_INVALID_VALUE)";
        if (s.maxThreads() > 0 && threads > s.maxThreads()) {
            return what + ": " + threads + " threads, more than its __launch_bounds__ of " + s.maxThreads() + " (CUDA_ERROR_INVALID_VALUE)";
        }
        if (s.registers() >= 0) {
            long perWarp = ((long) s.registers() * 32 + REGISTER_GRANULE_PER_WARP - 1) / REGISTER_GRANULE_PER_WARP * REGISTER_GRANULE_PER_WARP;
            long needed = (threads + 31) / 32 * perWarp;
            if (needed > REGISTERS_PER_BLOCK) {
                return what + ": " + s.registers() + " registers per thread make " + needed + " for the block, more than the "
                        + REGISTERS_PER_BLOCK + " an SM has (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES)";
            }
        }
        int staticShared = Math.max(s.staticShared(), 0);
        int allowed = optIn > 0 ? optIn : DEFAULT_SHARED - staticShared;
        if (dynamicShared > allowed || staticShared + dynamicShared > MAX_SHARED_OPT_IN) {
            return what + ": " + dynamicShared + " B of dynamic shared memory (and " + staticShared + " B static), more than "
                    + (optIn > 0 ? "the " + optIn + " B it opted in to" : "the " + DEFAULT_SHARED + " B a kernel gets without opting in")
                    + " (CUDA_ERROR_INVALID_VALUE)";
        }
        return null;
    }

    @Override public Object function(PtxSource owner, String module, String function) {
        Map<String, Signature> sigs = modules.computeIfAbsent(owner.name() + "/" + module, k -> {
            byte[] ptx = PtxModules.load(owner, module, computeCapability());
            Map<String, Signature> parsed = signatures(module, new String(ptx, 0, ptx.length - 1, StandardCharsets.US_ASCII));
            String resources = PtxModules.resources(owner, module, computeCapability());
            return resources == null ? parsed : withResources(parsed, resources);
        });
        Signature s = sigs.get(function);
        if (s == null) throw new IllegalStateException("dry run: kernel '" + function + "' is not in module '" + module + "' (entries: " + sigs.keySet() + ")");
        return s;
    }

    @Override public void setMaxDynamicShared(Object function, String name, int bytes) {
        int staticShared = Math.max(((Signature) function).staticShared(), 0);
        if (bytes < 0 || staticShared + bytes > MAX_SHARED_OPT_IN) { // cuFuncSetAttribute's CUDA_ERROR_INVALID_VALUE
            throw new IllegalStateException("dry run: a GPU would refuse to let " + name + " use " + bytes + " B of dynamic shared memory: with its "
                    + staticShared + " B of static shared memory that is more than the " + MAX_SHARED_OPT_IN + " B a block may have");
        }
        sharedOptIn.merge(name, bytes, Math::max);
    }

    @Override public void launch(Object function, String name, int[] grid, int[] block, int sharedBytes, ByteBuffer params, int[] offsets,
                                 int[] sizes, boolean[] pointers, int argc) {
        Signature s = (Signature) function;
        for (int i = 0; i < argc; i++) {
            if (!pointers[i]) continue;
            long p = params.getLong(offsets[i]);
            var e = extents.floorEntry(p);
            // A pointer may sit one past the end of its block (an empty tensor at the end of a storage).
            if (p != 0 && (e == null || p > e.getKey() + e.getValue())) {
                throw new IllegalStateException("dry run: " + name + " argument " + i + " = 0x" + Long.toHexString(p)
                        + " is not inside any live device allocation (freed, host memory, or not an address)");
            }
        }
        if (argc != s.sizes().length) {
            throw new IllegalStateException("dry run: " + name + " takes " + s.sizes().length + " arguments " + java.util.Arrays.toString(s.sizes())
                    + " (bytes), the launch passed " + argc + " " + java.util.Arrays.toString(java.util.Arrays.copyOf(sizes, argc)));
        }
        for (int i = 0; i < argc; i++) {
            if (sizes[i] != s.sizes()[i]) {
                throw new IllegalStateException("dry run: " + name + " argument " + i + " is " + s.sizes()[i] + " bytes in the PTX, the launch passed "
                        + sizes[i] + " (all: PTX " + java.util.Arrays.toString(s.sizes()) + ", launch "
                        + java.util.Arrays.toString(java.util.Arrays.copyOf(sizes, argc)) + ")");
            }
        }
        String refusal = launchRefusal(s, grid, block, sharedBytes, sharedOptIn.getOrDefault(name, 0));
        if (refusal != null) throw new IllegalStateException("dry run: a GPU would refuse " + refusal);
        launches.add(new Launch(name, grid.clone(), block.clone(), sharedBytes));
        if (emulator != null) emulator.launch(s.module(), name, grid, block, sharedBytes, params, offsets, argc);
        Emulation e = emulations.get(name);
        if (e != null) e.run(new Arguments(grid.clone(), params, offsets, argc));
    }

    /**
     * Checks a column-major GEMM's leading dimensions as cuBLAS would (CUBLAS_STATUS_INVALID_VALUE otherwise) and
     * records it as {@code cublasGemmStridedBatchedEx}, with " bf16", " f16", " f64" or " tf32" appended when its
     * inputs or compute type are not plain F32.
     */
    void gemm(int transA, int transB, int m, int n, int k, double alpha, long a, int aType, int lda, long strideA, long b, int bType, int ldb,
              long strideB, double beta, long c, int cType, int ldc, long strideC, int batch, int computeType) {
        checkGemm(transA, transB, m, n, k, lda, ldb, ldc, batch, aType, computeType);
        if (emulator != null && m > 0 && n > 0 && batch > 0) {
            emulator.gemm(transA, transB, m, n, k, alpha, a, aType, lda, strideA, b, bType, ldb, strideB, beta, c, cType, ldc, strideC, batch, computeType);
        }
    }

    private void checkGemm(int transA, int transB, int m, int n, int k, int lda, int ldb, int ldc, int batch, int aType, int computeType) {
        int rowsA = transA == Cublas.OP_N ? m : k, rowsB = transB == Cublas.OP_N ? k : n;
        if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < Math.max(1, rowsA) || ldb < Math.max(1, rowsB) || ldc < Math.max(1, m)) {
            throw new IllegalStateException("dry run: cublasGemmStridedBatchedEx would reject m=" + m + " n=" + n + " k=" + k + " lda=" + lda
                    + " ldb=" + ldb + " ldc=" + ldc + " (ops " + transA + "," + transB + ")");
        }
        String kind = switch (aType) {
            case Cublas.R_16BF -> " bf16";
            case Cublas.R_16F -> " f16";
            case Cublas.R_64F -> " f64";
            default -> computeType == Cublas.COMPUTE_32F_FAST_TF32 ? " tf32" : "";
        };
        launches.add(new Launch("cublasGemmStridedBatchedEx" + kind, new int[] {m, n, k}, new int[] {batch, 1, 1}, 0));
    }
}
