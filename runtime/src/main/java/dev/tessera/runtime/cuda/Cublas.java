package dev.tessera.runtime.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import dev.tessera.runtime.TesseraException;

/**
 * cuBLAS reached through Panama downcalls into whichever {@code libcublas.so.N} is installed. JCublas binds only
 * {@code libcublas.so.12}, which CUDA 13 machines lack, so we look the library up ourselves: {@code TESSERA_CUBLAS}
 * (a file), then {@code libcublas.so.13}, {@code .12} and the unversioned name on the loader's path, then the CUDA
 * toolkit's and the {@code nvidia-cublas} wheels' folders. cuBLAS is column-major; {@link CudaMatmul} maps
 * row-major products onto it by swapping operands, never by copying.
 */
public final class Cublas {
    // Enum values from cublas_api.h / library_types.h (CUDA 13).
    public static final int OP_N = 0, OP_T = 1;
    public static final int R_32F = 0, R_64F = 1, R_16F = 2, R_16BF = 14;
    public static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77, COMPUTE_64F = 70;
    static final int GEMM_DEFAULT = -1;

    /** Where the library was found, or why not. */
    public record Probe(String path, String reason) {
        public boolean available() { return path != null; }
    }

    private static volatile Probe probe;
    private static volatile Bindings bindings;
    private static final Map<Integer, MemorySegment> HANDLES = new ConcurrentHashMap<>();

    private Cublas() {}

    private record Bindings(MethodHandle create, MethodHandle setStream, MethodHandle gemmStridedBatchedEx, MethodHandle statusName,
                            MethodHandle setMathMode) {}

    /** The library names and files to try, in order. */
    static List<String> candidates(String explicit, List<Path> searchDirs) {
        List<String> out = new ArrayList<>();
        if (explicit != null && !explicit.isBlank()) out.add(explicit);
        out.add("libcublas.so.13");
        out.add("libcublas.so.12");
        out.add("libcublas.so");
        for (Path dir : searchDirs) {
            for (String name : new String[] {"libcublas.so.13", "libcublas.so.12", "libcublas.so"}) {
                Path f = dir.resolve(name);
                if (Files.isRegularFile(f)) out.add(f.toString());
            }
        }
        return out;
    }

    /** CUDA toolkit folders and the lib folders of nvidia-cublas wheels in the usual Python locations. */
    static List<Path> searchDirs() {
        List<Path> dirs = new ArrayList<>(List.of(Path.of("/usr/local/cuda/lib64"), Path.of("/usr/local/cuda/targets/x86_64-linux/lib"),
                Path.of("/usr/lib/x86_64-linux-gnu")));
        String home = System.getProperty("user.home", "/root");
        for (String root : new String[] {"/usr/lib", "/usr/local/lib", home + "/.local/lib", "/opt/conda/lib"}) {
            try (Stream<Path> pythons = Files.list(Path.of(root))) {
                pythons.filter(p -> p.getFileName().toString().startsWith("python3")).forEach(py -> {
                    for (String site : new String[] {"site-packages", "dist-packages"}) {
                        dirs.add(py.resolve(site).resolve("nvidia/cu13/lib"));
                        dirs.add(py.resolve(site).resolve("nvidia/cublas/lib"));
                    }
                });
            } catch (IOException | SecurityException e) {
                // that root does not exist here
            }
        }
        return dirs;
    }

    /** Finds cuBLAS once per process. */
    public static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (Cublas.class) {
                if (probe == null) probe = find(candidates(System.getenv("TESSERA_CUBLAS"), searchDirs()));
                p = probe;
            }
        }
        return p;
    }

    static Probe find(List<String> candidates) {
        for (String c : candidates) {
            try {
                SymbolLookup lib = SymbolLookup.libraryLookup(c.contains("/") ? Path.of(c) : Path.of(c).getFileName(), Arena.global());
                if (lib.find("cublasCreate_v2").isPresent()) {
                    synchronized (Cublas.class) {
                        if (bindings == null) bindings = bind(lib);
                    }
                    return new Probe(c, null);
                }
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                // not this one
            } catch (IllegalCallerException e) {
                return new Probe(null, "native access is disabled: run with --enable-native-access=dev.tessera.runtime (or ALL-UNNAMED)");
            }
        }
        return new Probe(null, "cuBLAS not found (tried " + String.join(", ", candidates)
                + "); install the CUDA toolkit or the nvidia-cublas wheel, or set TESSERA_CUBLAS to the library file");
    }

    private static Bindings bind(SymbolLookup lib) {
        Linker l = Linker.nativeLinker();
        var I = ValueLayout.JAVA_INT;
        var J = ValueLayout.JAVA_LONG;
        var A = ValueLayout.ADDRESS;
        MethodHandle create = l.downcallHandle(lib.find("cublasCreate_v2").orElseThrow(), FunctionDescriptor.of(I, A));
        MethodHandle setStream = l.downcallHandle(lib.find("cublasSetStream_v2").orElseThrow(), FunctionDescriptor.of(I, A, A));
        MethodHandle gemm = l.downcallHandle(lib.find("cublasGemmStridedBatchedEx").orElseThrow(),
                FunctionDescriptor.of(I, A, I, I, I, I, I, A, A, I, I, J, A, I, I, J, A, A, I, I, J, I, I, I));
        MethodHandle name = lib.find("cublasGetStatusName").map(s -> l.downcallHandle(s, FunctionDescriptor.of(A, I))).orElse(null);
        MethodHandle math = l.downcallHandle(lib.find("cublasSetMathMode").orElseThrow(), FunctionDescriptor.of(I, A, I));
        return new Bindings(create, setStream, gemm, name, math);
    }

    /** The status name, e.g. CUBLAS_STATUS_INVALID_VALUE. */
    static String statusName(int status) {
        Bindings b = bindings;
        if (b != null && b.statusName() != null) {
            try {
                MemorySegment s = (MemorySegment) b.statusName().invokeExact(status);
                if (!s.equals(MemorySegment.NULL)) return s.reinterpret(128).getString(0) + " (" + status + ")";
            } catch (Throwable t) {
                // fall through to the table
            }
        }
        return switch (status) {
            case 0 -> "CUBLAS_STATUS_SUCCESS";
            case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
            case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
            case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
            case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
            default -> "cublasStatus " + status;
        } + " (" + status + ")";
    }

    static void check(String what, int status) {
        if (status != 0) throw new TesseraException("cuBLAS " + what + " failed: " + statusName(status));
    }

    private static MemorySegment handle(CudaDevice d) {
        Probe p = probe();
        if (!p.available()) throw new TesseraException("matmul on " + d + " needs cuBLAS: " + p.reason());
        return HANDLES.computeIfAbsent(d.ordinal(), k -> {
            d.makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                check("cublasCreate_v2", (int) bindings.create().invokeExact(out));
                MemorySegment h = out.get(ValueLayout.ADDRESS, 0);
                check("cublasSetStream_v2", (int) bindings.setStream().invokeExact(h, MemorySegment.ofAddress(d.streamHandle())));
                return h;
            } catch (TesseraException e) {
                throw e;
            } catch (Throwable t) {
                throw new TesseraException("cuBLAS handle creation on " + d + " failed: " + t, t);
            }
        });
    }

    /**
     * {@code cublasGemmStridedBatchedEx} on the device's stream: C = alpha·op(A)·op(B) + beta·C per batch, column-major.
     * alpha and beta are passed in the compute type's scale type (double for COMPUTE_64F, float otherwise).
     */
    public static void gemmStridedBatched(CudaDevice d, int transA, int transB, int m, int n, int k, double alpha,
                                          long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                                          double beta, long c, int cType, int ldc, long strideC, int batch, int computeType) {
        if (d.driver() instanceof DryRunDriver dry) {
            dry.gemm(transA, transB, m, n, k, alpha, a, aType, lda, strideA, b, bType, ldb, strideB, beta, c, cType, ldc, strideC, batch, computeType);
            return;
        }
        MemorySegment h = handle(d);
        d.makeCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment al, be;
            if (computeType == COMPUTE_64F) {
                al = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, alpha);
                be = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, beta);
            } else {
                al = arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) alpha);
                be = arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) beta);
            }
            int status;
            synchronized (h) { // one handle per device; cuBLAS handles are not safe to use from two threads at once
                status = (int) bindings.gemmStridedBatchedEx().invokeExact(h, transA, transB, m, n, k, al,
                        MemorySegment.ofAddress(a), aType, lda, strideA, MemorySegment.ofAddress(b), bType, ldb, strideB, be,
                        MemorySegment.ofAddress(c), cType, ldc, strideC, batch, computeType, GEMM_DEFAULT);
            }
            check("cublasGemmStridedBatchedEx (m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch + ")", status);
        } catch (TesseraException e) {
            throw e;
        } catch (Throwable t) {
            throw new TesseraException("cuBLAS call failed: " + t, t);
        }
        if (CudaDevice.SYNC_EACH_LAUNCH) d.synchronize("after cublasGemmStridedBatchedEx");
    }
}
