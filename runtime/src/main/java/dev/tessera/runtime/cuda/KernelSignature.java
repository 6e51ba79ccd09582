package dev.tessera.runtime.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the dry run knows of one kernel entry, and the launch limits of a compute capability 9.0 GPU that it checks
 * launches against: the parameters' sizes in bytes, in order; {@code module}, the PTX module (the .cu file) that holds
 * it; {@code maxThreads}, its {@code __launch_bounds__} (0: none); {@code registers} per thread and
 * {@code staticShared} bytes in the sm_90 cubin (−1: the build left no record of them).
 */
record KernelSignature(String module, String name, int[] sizes, int maxThreads, int registers, int staticShared) {
    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z0-9_]+)\\s*\\(([^)]*)\\)", Pattern.DOTALL);
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+(?:\\.align\\s+(\\d+)\\s+)?\\.([a-z]+)(\\d+)\\s+[A-Za-z0-9_]+(?:\\[(\\d+)\\])?");
    private static final Pattern MAX_THREADS = Pattern.compile("\\.(?:maxntid|reqntid)\\s+(\\d+)(?:\\s*,\\s*(\\d+))?(?:\\s*,\\s*(\\d+))?");


    /** Registers of one SM (and the most one block may hold), and the granule a warp's registers come in (sm_80/90). */
    static final int REGISTERS_PER_BLOCK = 65_536, REGISTER_GRANULE_PER_WARP = 256;
    /** Shared memory a block may use without opting in, and with (sm_90: 228 KiB per SM, 1 KiB kept by the system). */
    static final int DEFAULT_SHARED = 48 * 1024, MAX_SHARED_OPT_IN = 227 * 1024;

    KernelSignature(String module, String name, int[] sizes) { this(module, name, sizes, 0, -1, -1); }

    KernelSignature withResources(int registers, int staticShared) {
        return new KernelSignature(module, name, sizes, maxThreads, registers, staticShared);
    }

    /** Parses the entries of a PTX text: their parameter sizes and launch bounds. */
    static Map<String, KernelSignature> parse(String module, String ptx) {
        Map<String, KernelSignature> out = new LinkedHashMap<>();
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
            out.put(m.group(1), new KernelSignature(module, m.group(1), sizes.stream().mapToInt(Integer::intValue).toArray(), maxThreads, -1, -1));
        }
        return out;
    }

    /**
     * Adds to {@code sigs} the registers and static shared memory that {@code resources} (the build's
     * {@code <module>.sm_90.resources}: lines "entry registers sharedBytes") gives each entry.
     */
    static Map<String, KernelSignature> withResources(Map<String, KernelSignature> sigs, String resources) {
        Map<String, KernelSignature> out = new LinkedHashMap<>(sigs);
        for (String line : resources.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length != 3) continue;
            KernelSignature s = out.get(f[0]);
            if (s != null) out.put(f[0], s.withResources(Integer.parseInt(f[1]), Integer.parseInt(f[2])));
        }
        return out;
    }

    /**
     * Why a GPU of compute capability 9.0 would refuse this launch, or null: the limits on block and grid
     * dimensions, the kernel's launch bounds, the registers its block needs, and its shared memory ({@code optIn}: the
     * dynamic shared memory the kernel was allowed, 0 if it never asked).
     */
    String launchRefusal(int[] grid, int[] block, int dynamicShared, int optIn) {
        long threads = (long) block[0] * block[1] * block[2];
        String what = name + " with grid " + java.util.Arrays.toString(grid) + " and block " + java.util.Arrays.toString(block);
        if (block[0] <= 0 || block[1] <= 0 || block[2] <= 0 || grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0) return what + ": an empty grid or block";
        if (block[0] > 1024 || block[1] > 1024 || block[2] > 64 || threads > 1024) {
            return what + ": a block holds at most 1024 threads (x, y ≤ 1024, z ≤ 64) (CUDA_ERROR_INVALID_VALUE)";
        }
        if (grid[1] > 65_535 || grid[2] > 65_535) return what + ": grid y and z are at most 65,535 (CUDA_ERROR_INVALID_VALUE)";
        if (maxThreads > 0 && threads > maxThreads) {
            return what + ": " + threads + " threads, more than its __launch_bounds__ of " + maxThreads + " (CUDA_ERROR_INVALID_VALUE)";
        }
        if (registers >= 0) {
            long perWarp = ((long) registers * 32 + REGISTER_GRANULE_PER_WARP - 1) / REGISTER_GRANULE_PER_WARP * REGISTER_GRANULE_PER_WARP;
            long needed = (threads + 31) / 32 * perWarp;
            if (needed > REGISTERS_PER_BLOCK) {
                return what + ": " + registers + " registers per thread make " + needed + " for the block, more than the "
                        + REGISTERS_PER_BLOCK + " an SM has (CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES)";
            }
        }
        int staticShared = Math.max(this.staticShared, 0);
        int allowed = optIn > 0 ? optIn : DEFAULT_SHARED - staticShared;
        if (dynamicShared > allowed || staticShared + dynamicShared > MAX_SHARED_OPT_IN) {
            return what + ": " + dynamicShared + " B of dynamic shared memory (and " + staticShared + " B static), more than "
                    + (optIn > 0 ? "the " + optIn + " B it opted in to" : "the " + DEFAULT_SHARED + " B a kernel gets without opting in")
                    + " (CUDA_ERROR_INVALID_VALUE)";
        }
        return null;
    }
}
