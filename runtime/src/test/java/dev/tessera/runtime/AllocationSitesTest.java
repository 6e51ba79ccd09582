package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AllocationSitesTest {
    /** A helper that forgets to release what it allocates. */
    private static Tensor leakyHelper() {
        return Tensor.zeros(3, 100);
    }

    @Test
    void theReportNamesWhereTheLiveStoragesWereAllocated() {
        MemoryStats.trackAllocations(true);
        try {
            Tensor leaked = leakyHelper();
            Tensor other;
            try (Scope s = Scope.open()) {
                Tensor.ones(50).mul(2); // released by the scope: not in the report
                other = Scope.persist(Tensor.ones(7));
            }
            String report = MemoryStats.liveAllocationReport();
            assertTrue(report.startsWith("2 live allocations made while tracking, 1.2 KiB"), report);
            assertTrue(report.contains("1.2 KiB in 1 on cpu") && report.contains("AllocationSitesTest.leakyHelper(AllocationSitesTest.java"), report);
            assertTrue(report.indexOf("leakyHelper") < report.indexOf("28 B in 1 on cpu"), "most bytes first: " + report);
            leaked.close();
            other.close();
            assertTrue(MemoryStats.liveAllocationReport().startsWith("0 live allocations"), MemoryStats.liveAllocationReport());
        } finally {
            MemoryStats.trackAllocations(false);
        }
        assertTrue(MemoryStats.liveAllocationReport().startsWith("allocation tracking is off"), MemoryStats.liveAllocationReport());
    }
}
