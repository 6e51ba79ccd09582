package dev.tessera.runtime.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A stand-in GPU for machines without one (see {@link CudaDevice#installDryRun}): memory is host memory at its native
 * address, zero-filled whenever it is handed out (fresh or from the cache, so what no kernel wrote always reads 0),
 * copies are host copies, and a launch runs nothing but is checked against the kernel's PTX signature: the entry
 * must exist, and the arguments must match its parameters in number and size (a 4-byte int where the kernel takes 8
 * bytes is the classic silent bug of driver-API launches), and the launch must be one an sm_90 GPU accepts (block and
 * grid limits, launch bounds, registers and shared memory per block: {@link KernelSignature#launchRefusal}). It
 * reports as an sm_90 device with 132 SMs and 227 KiB of opt-in shared memory, like an H100/H200.
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
    private final Map<String, Map<String, KernelSignature>> modules = new ConcurrentHashMap<>();
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

    @Override public int maxSharedOptin() { return KernelSignature.MAX_SHARED_OPT_IN; }

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

    @Override public Object function(PtxSource owner, String module, String function) {
        Map<String, KernelSignature> sigs = modules.computeIfAbsent(owner.name() + "/" + module, k -> {
            byte[] ptx = PtxModules.load(owner, module, computeCapability());
            Map<String, KernelSignature> parsed = KernelSignature.parse(module, new String(ptx, 0, ptx.length - 1, StandardCharsets.US_ASCII));
            String resources = PtxModules.resources(owner, module, computeCapability());
            return resources == null ? parsed : KernelSignature.withResources(parsed, resources);
        });
        KernelSignature s = sigs.get(function);
        if (s == null) throw new IllegalStateException("dry run: kernel '" + function + "' is not in module '" + module + "' (entries: " + sigs.keySet() + ")");
        return s;
    }

    @Override public void setMaxDynamicShared(Object function, String name, int bytes) {
        int staticShared = Math.max(((KernelSignature) function).staticShared(), 0);
        if (bytes < 0 || staticShared + bytes > KernelSignature.MAX_SHARED_OPT_IN) { // cuFuncSetAttribute's CUDA_ERROR_INVALID_VALUE
            throw new IllegalStateException("dry run: a GPU would refuse to let " + name + " use " + bytes + " B of dynamic shared memory: with its "
                    + staticShared + " B of static shared memory that is more than the " + KernelSignature.MAX_SHARED_OPT_IN + " B a block may have");
        }
        sharedOptIn.merge(name, bytes, Math::max);
    }

    @Override public void launch(Object function, String name, int[] grid, int[] block, int sharedBytes, ByteBuffer params, int[] offsets,
                                 int[] sizes, boolean[] pointers, int argc) {
        KernelSignature s = (KernelSignature) function;
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
        String refusal = s.launchRefusal(grid, block, sharedBytes, sharedOptIn.getOrDefault(name, 0));
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
