package dev.tessera.runtime.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.tessera.runtime.TesseraException;

/**
 * The CUDA C kernels of {@code native/cuda}, compiled for the host by {@code native/build-emulator.sh} and run on the
 * CPU: each block's threads as fibers that switch at barriers and warp-collective operations, blocks shared out
 * between the calling thread and a few workers (see {@code native/emulation}). A {@link DryRunDriver} made with one runs every launch it has checked, so the CUDA
 * backend's host code and kernels together can be compared with the CPU backend on a machine without a GPU. cuBLAS
 * is stood in for by a plain GEMM with the same argument conventions (column-major, TF32 rounding when asked).
 *
 * <p>It checks logic, not speed. A block's threads never run at the same moment, but alternate blocks run them in
 * opposite orders, so a read racing a write without a barrier shows as blocks that disagree; a barrier reached by
 * part of a block, a shuffle naming an exited lane, or a deadlock stops the launch with a message.
 */
public final class KernelEmulator {
    /** The system property naming the folder that holds the emulator's libraries. */
    public static final String FOLDER_PROPERTY = "tessera.cuda.emulator";

    private static final Linker LINKER = Linker.nativeLinker();
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong J = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;
    private static final ValueLayout A = ValueLayout.ADDRESS;
    private static final int ERROR_BYTES = 1024;

    private final Path folder;
    private final MethodHandle launch;
    private final MethodHandle gemm;
    private final Map<String, SymbolLookup> modules = new ConcurrentHashMap<>();

    private KernelEmulator(Path folder) {
        this.folder = folder;
        SymbolLookup core = SymbolLookup.libraryLookup(folder.resolve("libtessera-emu-core.so"), Arena.global());
        launch = LINKER.downcallHandle(core.find("tessera_emu_launch").orElseThrow(),
                FunctionDescriptor.of(I, A, A, I, I, I, I, I, I, I, A, A, I));
        gemm = LINKER.downcallHandle(core.find("tessera_emu_gemm").orElseThrow(),
                FunctionDescriptor.of(I, I, I, I, I, I, D, A, I, I, J, A, I, I, J, D, A, I, I, J, I, I));
    }

    /**
     * The emulator built in the folder that {@value #FOLDER_PROPERTY} names, or null with the reason in {@code why[0]}
     * when the property is unset or the folder lacks the core library (built without g++).
     */
    static KernelEmulator find(String[] why) {
        String dir = System.getProperty(FOLDER_PROPERTY);
        if (dir == null || dir.isBlank()) {
            why[0] = "the CUDA emulator is not configured (-D" + FOLDER_PROPERTY + "=<folder>)";
            return null;
        }
        Path folder = Path.of(dir);
        if (!Files.isRegularFile(folder.resolve("libtessera-emu-core.so"))) {
            why[0] = "the CUDA emulator is not built in " + folder + " (native/build-emulator.sh needs g++)";
            return null;
        }
        return new KernelEmulator(folder);
    }

    private SymbolLookup module(String module) {
        return modules.computeIfAbsent(module, m -> {
            Path lib = folder.resolve("libtessera-emu-" + m + ".so");
            if (!Files.isRegularFile(lib)) throw new IllegalStateException("CUDA emulator: no library for module '" + m + "' in " + folder);
            return SymbolLookup.libraryLookup(lib, Arena.global()); // loading registers its kernels with the core
        });
    }

    /** Runs kernel {@code name} of {@code module} with the launch's argument bytes; throws with the emulator's message if it fails. */
    void launch(String module, String name, int[] grid, int[] block, int sharedBytes, ByteBuffer params, int[] offsets, int argc) {
        module(module);
        try (Arena arena = Arena.ofConfined()) {
            ByteBuffer all = params.duplicate().clear(); // the argument bytes from offset 0, whatever the buffer's position
            MemorySegment base = all.isDirect() ? MemorySegment.ofBuffer(all) : arena.allocate(all.capacity(), 16).copyFrom(MemorySegment.ofBuffer(all));
            MemorySegment args = arena.allocate(ValueLayout.ADDRESS, Math.max(argc, 1));
            for (int i = 0; i < argc; i++) args.setAtIndex(ValueLayout.ADDRESS, i, MemorySegment.ofAddress(base.address() + offsets[i]));
            MemorySegment error = arena.allocate(ERROR_BYTES);
            int status = (int) launch.invokeExact(arena.allocateFrom(module), arena.allocateFrom(name), grid[0], grid[1], grid[2],
                    block[0], block[1], block[2], sharedBytes, args, error, ERROR_BYTES);
            if (status != 0) throw new TesseraException("CUDA emulator: " + error.getString(0));
        } catch (TesseraException | IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new TesseraException("CUDA emulator: launch of " + name + " failed: " + t, t);
        }
    }

    /** cublasGemmStridedBatchedEx's arithmetic on host memory (see {@link Cublas#gemmStridedBatched}). */
    void gemm(int transA, int transB, int m, int n, int k, double alpha, long a, int aType, int lda, long strideA, long b, int bType, int ldb,
              long strideB, double beta, long c, int cType, int ldc, long strideC, int batch, int computeType) {
        try {
            int status = (int) gemm.invokeExact(transA, transB, m, n, k, alpha, MemorySegment.ofAddress(a), aType, lda, strideA,
                    MemorySegment.ofAddress(b), bType, ldb, strideB, beta, MemorySegment.ofAddress(c), cType, ldc, strideC, batch, computeType);
            if (status != 0) throw new TesseraException("CUDA emulator: gemm failed with " + status);
        } catch (TesseraException e) {
            throw e;
        } catch (Throwable t) {
            throw new TesseraException("CUDA emulator: gemm failed: " + t, t);
        }
    }
}
