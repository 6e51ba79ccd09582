package dev.tessera.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where the live storages were allocated, while tracking is on ({@link MemoryStats#trackAllocations}, or
 * {@code -Dtessera.trackAllocations=true} from the start): the tool for finding the tensor nobody releases, which
 * otherwise only the garbage collector's cleaner would free, some time later. Off, it costs a volatile read per
 * allocation and an emptiness check per release.
 */
final class AllocationSites {
    private AllocationSites() {}

    private record Site(Device device, long bytes, List<StackTraceElement> stack) {}

    private static volatile boolean on = Boolean.getBoolean("tessera.trackAllocations");
    /** Keyed by the storage's release action, which lives exactly as long as the storage's memory. */
    private static final Map<Object, Site> LIVE = new ConcurrentHashMap<>();
    private static final int FRAMES = 12;

    static void track(boolean enable) {
        on = enable;
        if (!enable) LIVE.clear();
    }

    static void allocated(Object release, Device device, long bytes) {
        if (!on) return;
        List<StackTraceElement> stack = StackWalker.getInstance().walk(frames -> frames
                .dropWhile(f -> f.getClassName().equals(AllocationSites.class.getName()) || f.getClassName().equals(Storage.class.getName()))
                .limit(FRAMES).map(StackWalker.StackFrame::toStackTraceElement).toList());
        LIVE.put(release, new Site(device, bytes, stack));
    }

    static void freed(Object release) {
        if (!LIVE.isEmpty()) LIVE.remove(release);
    }

    /** The storages allocated while tracking and still alive, grouped by where they were allocated, most bytes first. */
    static String report() {
        if (!on && LIVE.isEmpty()) return "allocation tracking is off (MemoryStats.trackAllocations(true), or -Dtessera.trackAllocations=true)";
        Map<String, long[]> bySite = new LinkedHashMap<>(); // site → {allocations, bytes}
        long count = 0, bytes = 0;
        for (Site s : new ArrayList<>(LIVE.values())) {
            StringBuilder key = new StringBuilder(s.device().toString());
            for (StackTraceElement f : s.stack()) key.append("\n      at ").append(f);
            long[] agg = bySite.computeIfAbsent(key.toString(), k -> new long[2]);
            agg[0]++;
            agg[1] += s.bytes();
            count++;
            bytes += s.bytes();
        }
        StringBuilder out = new StringBuilder(count + " live allocation" + (count == 1 ? "" : "s") + " made while tracking, "
                + DeviceMemoryStats.human(bytes));
        bySite.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1])).forEach(e -> {
            String[] deviceAndStack = e.getKey().split("\n", 2);
            out.append("\n  ").append(DeviceMemoryStats.human(e.getValue()[1])).append(" in ").append(e.getValue()[0])
                    .append(" on ").append(deviceAndStack[0]).append(deviceAndStack.length > 1 ? "\n" + deviceAndStack[1] : "");
        });
        return out.toString();
    }
}
