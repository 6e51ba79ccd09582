package dev.tessera.runtime.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import dev.tessera.runtime.TesseraException;

/**
 * Finds the PTX the build embedded: {@code <package>/ptx/<module>.compute_<NN>.ptx} next to the class that owns
 * the kernels, an {@code sm_90} cubin of each, and an {@code INDEX} of module names. Picks, for a device of compute capability {@code cc}, the
 * highest architecture that is not above it (PTX is JIT-compiled forward, never backward).
 */
public final class PtxModules {
    /** Architectures the build emits, highest first. */
    static final int[] ARCHS = {90, 80};

    private PtxModules() {}

    /** The resource path of {@code module}'s PTX for a device of compute capability {@code cc} (e.g. 90), or null. */
    static String resourceFor(PtxSource owner, String module, int cc) {
        for (int arch : ARCHS) {
            if (arch > cc) continue;
            String path = "ptx/" + module + ".compute_" + arch + ".ptx";
            if (owner.exists(path)) return path;
        }
        return null;
    }

    /** Architectures with a prebuilt cubin (exact match only: SASS does not run on other architectures). */
    static final int[] CUBINS = {90};

    /**
     * The image to load for a device of compute capability {@code cc}: the prebuilt cubin when the build made one
     * for exactly this architecture (no JIT at first use), else the PTX from {@link #load}.
     */
    public static byte[] image(PtxSource owner, String module, int cc) {
        for (int arch : CUBINS) {
            if (arch != cc) continue;
            String path = "ptx/" + module + ".sm_" + arch + ".cubin";
            try (InputStream in = owner.open(path)) {
                if (in != null) return in.readAllBytes();
            } catch (IOException e) {
                throw new TesseraException("CUDA kernels: cannot read " + path + ": " + e.getMessage(), e);
            }
        }
        return load(owner, module, cc);
    }

    /**
     * The build's record of what each entry of {@code module}'s cubin for compute capability {@code cc} needs (lines
     * "entry registers staticSharedBytes"), or null when there is no such cubin or record.
     */
    public static String resources(PtxSource owner, String module, int cc) {
        for (int arch : CUBINS) {
            if (arch != cc) continue;
            String path = "ptx/" + module + ".sm_" + arch + ".resources";
            try (InputStream in = owner.open(path)) {
                if (in != null) return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            } catch (IOException e) {
                throw new TesseraException("CUDA kernels: cannot read " + path + ": " + e.getMessage(), e);
            }
        }
        return null;
    }

    /** The NUL-terminated PTX text of a module, or a clear failure naming what is missing. */
    public static byte[] load(PtxSource owner, String module, int cc) {
        String path = resourceFor(owner, module, cc);
        if (path == null) {
            String pkg = owner.name().replace('.', '/');
            throw new TesseraException("CUDA kernels missing: no PTX for module '" + module + "' (compute capability " + cc / 10 + "." + cc % 10
                    + ") under " + pkg + "/ptx in the jar. The build compiles PTX only when nvcc is on the PATH; rebuild with the CUDA toolkit installed"
                    + (cc < 80 ? " (and note that Tessera's kernels need compute capability 8.0 or newer)" : ""));
        }
        try (InputStream in = owner.open(path)) {
            byte[] text = in.readAllBytes();
            byte[] z = java.util.Arrays.copyOf(text, text.length + 1);
            return z;
        } catch (IOException e) {
            throw new TesseraException("CUDA kernels: cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** The modules listed in the owner's {@code ptx/INDEX} (empty when the build had no nvcc). */
    public static List<String> index(PtxSource owner) {
        List<String> out = new ArrayList<>();
        try (InputStream in = owner.open("ptx/INDEX")) {
            if (in == null) return out;
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!line.isBlank()) out.add(line.trim());
            }
        } catch (IOException e) {
            throw new TesseraException("CUDA kernels: cannot read ptx/INDEX: " + e.getMessage(), e);
        }
        return out;
    }

    /** The {@code .entry} names a PTX text defines (for tests and error messages). */
    public static List<String> entries(byte[] ptx) {
        List<String> out = new ArrayList<>();
        for (String line : new String(ptx, StandardCharsets.UTF_8).split("\n")) {
            int i = line.indexOf(".entry ");
            if (i < 0) continue;
            String rest = line.substring(i + 7).trim();
            int end = rest.indexOf('(');
            out.add((end < 0 ? rest : rest.substring(0, end)).trim());
        }
        return out;
    }
}
