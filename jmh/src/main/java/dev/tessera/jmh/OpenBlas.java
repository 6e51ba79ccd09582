package dev.tessera.jmh;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * OpenBLAS, the benchmarks' baseline, called through the Foreign Function API (no JNI, no JavaCPP).
 *
 * <p>The native library comes from the {@code org.bytedeco:openblas:<version>:<platform>} jar on the class path
 * (unpacked to a temporary directory once per JVM), so a fresh machine needs no system package. Failing that, the
 * usual Debian/Ubuntu locations are probed, and {@code -Dtessera.openblas=/path/libopenblas.so} overrides both.
 */
@SuppressWarnings("restricted") // loading a native library and calling it is the point; runs need --enable-native-access
final class OpenBlas {
    static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

    private static final Linker LINKER = Linker.nativeLinker();
    private static volatile OpenBlas instance;

    private final MethodHandle sgemm;
    private final MethodHandle setNumThreads;
    private final MethodHandle getNumThreads;
    private final String corename;
    private final String config;
    /** Where the library was loaded from, for the log line. */
    final String origin;

    private OpenBlas(SymbolLookup lib, String origin) throws Throwable {
        this.origin = origin;
        ValueLayout.OfInt i = ValueLayout.JAVA_INT;
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT;
        ValueLayout p = ValueLayout.ADDRESS;
        sgemm = LINKER.downcallHandle(find(lib, "cblas_sgemm"),
                FunctionDescriptor.ofVoid(i, i, i, i, i, i, f, p, i, p, i, f, p, i));
        setNumThreads = LINKER.downcallHandle(find(lib, "openblas_set_num_threads"), FunctionDescriptor.ofVoid(i));
        getNumThreads = LINKER.downcallHandle(find(lib, "openblas_get_num_threads"), FunctionDescriptor.of(i));
        corename = string(lib, "openblas_get_corename");
        config = string(lib, "openblas_get_config");
    }

    /** Loads OpenBLAS once per JVM, or throws {@link IllegalStateException} saying why it is unavailable. */
    static OpenBlas load() {
        OpenBlas o = instance;
        if (o != null) return o;
        synchronized (OpenBlas.class) {
            if (instance != null) return instance;
            // OpenBLAS picks its kernels in a load-time constructor from the CPU, unless OPENBLAS_CORETYPE forces
            // one. The sandbox this project grew up in exports OPENBLAS_CORETYPE=Haswell (AVX2), which would make
            // the baseline artificially slow on AVX-512 hardware; clear it in this process only, before loading.
            unsetenv("OPENBLAS_CORETYPE");
            List<String> tried = new ArrayList<>();
            for (Candidate c : candidates(tried)) {
                try {
                    instance = new OpenBlas(c.lookup(), c.origin());
                    return instance;
                } catch (Throwable t) {
                    tried.add(c.origin() + ": " + t);
                }
            }
            throw new IllegalStateException("OpenBLAS not found, skipping the baseline. Tried: " + tried
                    + ". Add org.bytedeco:openblas (classifier " + platform() + ") to the class path, install"
                    + " libopenblas0-pthread, or pass -Dtessera.openblas=/path/to/libopenblas.so");
        }
    }

    /** {@code C = A·B} for row-major, contiguous, non-transposed operands. */
    void sgemm(int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            sgemm.invokeExact(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1f, a, k, b, n, 0f, c, n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code C = Aᵀ·B} with A stored row-major as [k, m] (a weight gradient's gᵀ read in place), B [k, n], C [m, n]. */
    void sgemmTransposedA(int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            sgemm.invokeExact(ROW_MAJOR, TRANS, NO_TRANS, m, n, k, 1f, a, m, b, n, 0f, c, n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code C = A·Bᵀ} with B stored row-major as [n, k] (a linear layer's weight read in place), A [m, k], C [m, n]. */
    void sgemmTransposedB(int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            sgemm.invokeExact(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1f, a, k, b, k, 0f, c, n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    void setNumThreads(int threads) {
        try {
            setNumThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    int numThreads() {
        try {
            return (int) getNumThreads.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The kernel family OpenBLAS chose (e.g. "SkylakeX" on AVX-512, "Haswell" on AVX2) and its build config. */
    String describe() {
        return "OpenBLAS " + config + ", core " + corename + ", " + numThreads() + " threads, from " + origin;
    }

    private record Candidate(String origin, SymbolLookup lookup) {}

    private static List<Candidate> candidates(List<String> tried) {
        List<Candidate> out = new ArrayList<>();
        String override = System.getProperty("tessera.openblas");
        if (override != null) {
            out.add(new Candidate(override, SymbolLookup.libraryLookup(Path.of(override), Arena.global())));
            return out;
        }
        try {
            fromClassPath().ifPresent(out::add);
        } catch (Throwable t) {
            tried.add("class path (org.bytedeco:openblas): " + t);
        }
        for (String path : new String[] {
                "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
                "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
                "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
                "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                "/usr/lib64/libopenblas.so.0"}) {
            if (Files.isReadable(Path.of(path))) {
                try {
                    out.add(new Candidate(path, SymbolLookup.libraryLookup(Path.of(path), Arena.global())));
                } catch (Throwable t) {
                    tried.add(path + ": " + t);
                }
            } else {
                tried.add(path + ": absent");
            }
        }
        return out;
    }

    /**
     * Unpacks the bytedeco jar's libopenblas and the Fortran runtime it links against. libopenblas finds
     * libgfortran through its {@code $ORIGIN} run path, but libgfortran has none, so its own dependency
     * (libquadmath) is loaded first, by path, for the dynamic linker to reuse by soname.
     */
    private static Optional<Candidate> fromClassPath() throws IOException {
        String dir = "org/bytedeco/openblas/" + platform() + "/";
        ClassLoader cl = OpenBlas.class.getClassLoader();
        if (cl.getResource(dir + "libopenblas.so.0") == null) {
            throw new IOException(dir + "libopenblas.so.0 is not on the class path");
        }
        Path tmp = Files.createTempDirectory("tessera-openblas");
        tmp.toFile().deleteOnExit();
        // libgcc_s.so.1 is in the jar too, but every Linux has one already and a second unwinder is asking for trouble.
        String[] files = {"libquadmath.so.0", "libgfortran.so.5", "libopenblas.so.0"};
        for (String name : files) {
            try (InputStream in = cl.getResourceAsStream(dir + name)) {
                if (in == null) continue;
                Path to = tmp.resolve(name);
                Files.copy(in, to, StandardCopyOption.REPLACE_EXISTING);
                to.toFile().deleteOnExit();
            }
        }
        for (String dep : new String[] {"libquadmath.so.0", "libgfortran.so.5"}) {
            Path p = tmp.resolve(dep);
            if (Files.exists(p)) SymbolLookup.libraryLookup(p, Arena.global());
        }
        Path lib = tmp.resolve("libopenblas.so.0");
        return Optional.of(new Candidate("class path (" + dir + ")", SymbolLookup.libraryLookup(lib, Arena.global())));
    }

    /** JavaCPP's platform name for this JVM. */
    private static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch");
        String o = os.contains("linux") ? "linux" : os.contains("mac") ? "macosx" : os.contains("win") ? "windows" : os;
        String a = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "arm64";
            default -> arch;
        };
        return o + "-" + a;
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " missing"));
    }

    private static String string(SymbolLookup lib, String name) throws Throwable {
        Optional<MemorySegment> sym = lib.find(name);
        if (sym.isEmpty()) return "?";
        MethodHandle h = LINKER.downcallHandle(sym.get(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        MemorySegment s = (MemorySegment) h.invokeExact();
        return s.equals(MemorySegment.NULL) ? "?" : s.reinterpret(256).getString(0).trim();
    }

    /** Removes a variable from the C environment of this process (Java's own view of the environment is a copy). */
    private static void unsetenv(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle h = LINKER.downcallHandle(LINKER.defaultLookup().find("unsetenv").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            int rc = (int) h.invokeExact(arena.allocateFrom(name));
            if (rc != 0) System.err.println("unsetenv(" + name + ") failed: " + rc);
        } catch (Throwable t) {
            System.err.println("could not unset " + name + ": " + t);
        }
    }
}
