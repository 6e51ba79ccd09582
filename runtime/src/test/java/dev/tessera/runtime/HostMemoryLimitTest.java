package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class HostMemoryLimitTest {
    private static final long GIB = 1L << 30, MIB = 1L << 20;

    @Test
    void sizesAndSharesParse() {
        assertEquals(8 * GIB, HostMemoryLimit.parse("8g", 0));
        assertEquals(8 * GIB, HostMemoryLimit.parse(" 8GB ", 0));
        assertEquals(512 * MIB, HostMemoryLimit.parse("512m", 0));
        assertEquals(3 * GIB / 2, HostMemoryLimit.parse("1.5g", 0));
        assertEquals(1_073_741_824L, HostMemoryLimit.parse("1073741824", 0));
        assertEquals(2048L << 10, HostMemoryLimit.parse("2048k", 0));
        assertEquals(3 * GIB, HostMemoryLimit.parse("75%", 4 * GIB));
        for (String bad : new String[] {"abc", "0", "-1g", "150%", "0%", "g", "", "12x"}) {
            TesseraException e = assertThrows(TesseraException.class, () -> HostMemoryLimit.parse(bad, 4 * GIB), bad);
            assertTrue(e.getMessage().startsWith("-Dtessera.hostMemoryLimit=" + bad + ": "), e.getMessage());
        }
        TesseraException e = assertThrows(TesseraException.class, () -> HostMemoryLimit.parse("50%", 0));
        assertTrue(e.getMessage().contains("could not be read"), e.getMessage());
    }

    @Test
    void theDefaultLimitIsBelowThePhysicalMemory() {
        Assumptions.assumeTrue(System.getProperty(HostMemoryLimit.PROPERTY) == null, "the limit is set for this JVM");
        long physical = HostMemoryLimit.procMemTotal();
        Assumptions.assumeTrue(physical > 0, "no /proc/meminfo on this machine: " + System.getProperty("os.name"));
        long limit = MemoryStats.cpuLimitBytes();
        assertTrue(limit >= physical / 2 * 0.99 && limit < physical, "limit " + limit + " of " + physical);
        assertTrue(HostMemoryLimit.describe().contains("90 % of the"), HostMemoryLimit.describe());
    }

    @Test
    void procMemTotalReadsLinuxsFigure() {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/meminfo")), "no /proc/meminfo: not Linux");
        long total = HostMemoryLimit.procMemTotal();
        assertTrue(total > 256 * MIB && total < (1L << 50), "MemTotal " + total);
    }

    /**
     * Past the limit a request empties the cache, and then fails with the request, the tensor and the books in its
     * message, leaving the books as they were; smaller requests still succeed afterwards.
     */
    @Test
    void aRequestPastTheLimitFailsClearlyAndChangesNothing() {
        String before = System.getProperty(HostMemoryLimit.PROPERTY);
        try (Scope outer = Scope.open()) {
            // Nothing cached but one block, which the failing request must give back first (a cached block of the
            // requested size class would be handed out without asking for more).
            MemoryStats.emptyCpuCache();
            Tensor.zeros(9 * 1024 * 1024 + 5).close();
            assertTrue(MemoryStats.cpuCachedBytes() > 0);
            long reserved = MemoryStats.cpuStats().reservedBytes();
            System.setProperty(HostMemoryLimit.PROPERTY, Long.toString(reserved + 64 * MIB));
            long live = MemoryStats.cpuLiveBytes();
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> Tensor.zeros(32, 1 << 20));
            String m = e.getMessage();
            assertTrue(m.startsWith("cpu: out of memory allocating 128.0 MiB for a tensor of [32, 1048576] F32 (allocated "), m);
            assertTrue(m.contains("over the limit of") && m.contains("-Dtessera.hostMemoryLimit="), m);
            assertTrue(m.contains("smaller batch or sequence"), m);
            assertEquals("cpu", e.device());
            assertEquals(128 * MIB, e.requestedBytes());
            assertEquals(0, MemoryStats.cpuCachedBytes(), "the cache was emptied before giving up");
            assertEquals(live, MemoryStats.cpuLiveBytes(), "nothing allocated by the failed request");
            assertTrue(e.stats().outOfMemoryRetries() > 0);
            // Still usable within the limit.
            try (Tensor t = Tensor.ones(4, 1 << 20)) {
                assertEquals(4 << 20, t.sum().item(), 0.0);
            }
        } finally {
            if (before == null) System.clearProperty(HostMemoryLimit.PROPERTY);
            else System.setProperty(HostMemoryLimit.PROPERTY, before);
        }
    }
}
