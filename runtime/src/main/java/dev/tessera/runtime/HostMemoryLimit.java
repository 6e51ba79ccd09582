package dev.tessera.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How much host memory the CPU tensors may hold. {@code posix_memalign} hardly ever fails on Linux: memory is promised,
 * not given, and a process that then touches more than the machine has is killed by the kernel without a word (a
 * {@code --batch 64 --seq-len 65536} run did exactly that). So the {@link CpuAllocator} keeps its own books against
 * this limit and throws a {@link DeviceOutOfMemoryException} that says what was asked for and what is held.
 *
 * <p>By default the limit is 90 % of the physical memory (the container's limit where it is lower, as the JVM reports
 * it), less what the Java heap has committed at the moment of asking, and at least half the physical memory;
 * {@code -Dtessera.hostMemoryLimit} sets it
 * instead, as a size ({@code 8g}, {@code 512m}, bytes) or a share of the physical memory ({@code 75%}).
 */
final class HostMemoryLimit {
    static final String PROPERTY = "tessera.hostMemoryLimit";
    private static final double DEFAULT_SHARE = 0.9;
    /**
     * Never less than this share of the physical memory, however much the heap has committed: a heap grown to most of a
     * small machine (it gives little back) must not make every tensor allocation fail.
     */
    private static final double FLOOR_SHARE = 0.5;

    /** The physical memory (or the container's limit), 0 when it cannot be found out (then there is no limit). */
    private static final long PHYSICAL = physicalBytes();

    private HostMemoryLimit() {}

    /** The limit now, in bytes; {@link Long#MAX_VALUE} when the physical memory is unknown and no limit is set. */
    static long bytes() {
        String set = System.getProperty(PROPERTY);
        if (set != null) return parse(set, PHYSICAL);
        if (PHYSICAL <= 0) return Long.MAX_VALUE;
        return Math.max((long) (PHYSICAL * FLOOR_SHARE), (long) (PHYSICAL * DEFAULT_SHARE) - Runtime.getRuntime().totalMemory());
    }

    /** Where the limit comes from, for messages. */
    static String describe() {
        String set = System.getProperty(PROPERTY);
        if (set != null) return "-D" + PROPERTY + "=" + set;
        if (PHYSICAL <= 0) return "none (the physical memory could not be read)";
        return String.format(Locale.ROOT, "%d %% of the %s of physical memory, less the %s the Java heap holds, at least %d %%;"
                        + " -D%s sets it", Math.round(DEFAULT_SHARE * 100), DeviceMemoryStats.human(PHYSICAL),
                DeviceMemoryStats.human(Runtime.getRuntime().totalMemory()), Math.round(FLOOR_SHARE * 100), PROPERTY);
    }

    /**
     * A size: bytes, or a number with a binary suffix k, m, g, t (case ignored, an optional trailing b), or a
     * percentage of {@code physical}.
     */
    static long parse(String text, long physical) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (s.endsWith("%")) {
                double share = Double.parseDouble(s.substring(0, s.length() - 1).trim()) / 100;
                if (!(share > 0 && share <= 1)) throw new NumberFormatException();
                if (physical <= 0) {
                    throw new TesseraException("-D" + PROPERTY + "=" + text + ": a share of the physical memory, which"
                            + " could not be read on this machine; give a size instead (e.g. 8g)");
                }
                return (long) (physical * share);
            }
            if (s.endsWith("b")) s = s.substring(0, s.length() - 1);
            int shift = 0;
            char unit = s.isEmpty() ? ' ' : s.charAt(s.length() - 1);
            switch (unit) {
                case 'k' -> shift = 10;
                case 'm' -> shift = 20;
                case 'g' -> shift = 30;
                case 't' -> shift = 40;
                default -> { }
            }
            if (shift > 0) s = s.substring(0, s.length() - 1).trim();
            double value = Double.parseDouble(s);
            if (!(value > 0) || value * Math.pow(2, shift) >= Long.MAX_VALUE) throw new NumberFormatException();
            return (long) (value * Math.pow(2, shift));
        } catch (NumberFormatException e) {
            throw new TesseraException("-D" + PROPERTY + "=" + text + ": not a size (give e.g. 8g, 512m, 1073741824 or 75%)");
        }
    }

    private static long physicalBytes() {
        try {
            return Jmx.totalMemory();
        } catch (LinkageError | RuntimeException e) {
            // A runtime image without jdk.management (a jlinked JRE): read what Linux says.
            return procMemTotal();
        }
    }

    /** Kept apart so that a missing {@code jdk.management} module fails here, where it is caught. */
    private static final class Jmx {
        static long totalMemory() {
            var os = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class);
            return os.getTotalMemorySize();
        }
    }

    /** MemTotal of /proc/meminfo, lowered to a cgroup v2 or v1 memory limit where there is one; 0 when none is readable. */
    static long procMemTotal() {
        long total = 0;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    total = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        for (String file : new String[] {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
            try {
                String v = Files.readString(Path.of(file)).trim();
                if (!v.equals("max")) {
                    long limit = Long.parseLong(v);
                    if (limit > 0 && (total == 0 || limit < total)) total = limit;
                }
            } catch (IOException | RuntimeException ignored) {
                // no such controller here
            }
        }
        return total;
    }
}
