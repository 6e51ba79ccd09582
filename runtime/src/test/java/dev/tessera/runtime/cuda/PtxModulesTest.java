package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import dev.tessera.runtime.TesseraException;

/** The PTX the build embeds: present when nvcc was there, named by convention, picked by compute capability. */
class PtxModulesTest {
    // The dtype suffix names the storage type; u16/u32/u64 are raw bit-width kernels (fills and same-dtype copies).
    private static final Pattern ENTRY = Pattern.compile("[a-z0-9_]+_(f32|f64|bf16|f16|i32|i64|u8|u16|u32|u64|bool|any)(_[a-z0-9_]+)?");

    static boolean nvccOnPath() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, "nvcc"))) return true;
        }
        return false;
    }

    @Test
    void everyRuntimeModuleShipsPtxForBothArchitecturesWithConventionalEntryNames() {
        List<String> modules = PtxModules.index(PtxSource.RUNTIME);
        if (!nvccOnPath()) {
            Assumptions.assumeTrue(!modules.isEmpty(), "no nvcc on the PATH: this build embedded no PTX");
        }
        assertFalse(modules.isEmpty(), "nvcc is on the PATH but the build embedded no PTX: the PTX step did not run");
        for (String m : modules) {
            for (int arch : PtxModules.ARCHS) {
                String path = "ptx/" + m + ".compute_" + arch + ".ptx";
                assertTrue(PtxSource.RUNTIME.exists(path), "missing " + path);
            }
            byte[] ptx = PtxModules.load(PtxSource.RUNTIME, m, 90);
            assertEquals(0, ptx[ptx.length - 1], "PTX must be NUL-terminated for cuModuleLoadData");
            String text = new String(ptx, 0, ptx.length - 1, StandardCharsets.US_ASCII);
            assertTrue(text.contains(".target sm_90"), m + " compute_90 PTX targets sm_90");
            List<String> entries = PtxModules.entries(ptx);
            assertFalse(entries.isEmpty(), m + " defines no kernels");
            for (String e : entries) assertTrue(ENTRY.matcher(e).matches(), m + ": entry '" + e + "' is not extern \"C\" <op>_<dtype>");
        }
    }

    @Test
    void hopperLoadsThePrebuiltCubinAndOtherGpusThePtx() {
        List<String> modules = PtxModules.index(PtxSource.RUNTIME);
        Assumptions.assumeFalse(modules.isEmpty(), "no PTX in this build (no nvcc)");
        for (String m : modules) {
            byte[] sm90 = PtxModules.image(PtxSource.RUNTIME, m, 90);
            assertTrue(sm90.length > 4 && sm90[0] == 0x7f && sm90[1] == 'E' && sm90[2] == 'L' && sm90[3] == 'F', m + ": sm_90 image is an ELF cubin");
            byte[] sm86 = PtxModules.image(PtxSource.RUNTIME, m, 86);
            assertTrue(new String(sm86, 0, Math.min(sm86.length, 4096), StandardCharsets.US_ASCII).contains(".target sm_80"), m + ": sm_86 gets the compute_80 PTX");
        }
    }

    @Test
    void theHighestArchitectureNotAboveTheDeviceIsChosen() {
        List<String> modules = PtxModules.index(PtxSource.RUNTIME);
        Assumptions.assumeFalse(modules.isEmpty(), "no PTX in this build (no nvcc)");
        String m = modules.get(0);
        assertEquals("ptx/" + m + ".compute_90.ptx", PtxModules.resourceFor(PtxSource.RUNTIME, m, 90));
        assertEquals("ptx/" + m + ".compute_90.ptx", PtxModules.resourceFor(PtxSource.RUNTIME, m, 100));
        assertEquals("ptx/" + m + ".compute_80.ptx", PtxModules.resourceFor(PtxSource.RUNTIME, m, 86));
        assertNull(PtxModules.resourceFor(PtxSource.RUNTIME, m, 75));
    }

    @Test
    void aMissingModuleSaysTheKernelsAreMissingAndWhy() {
        TesseraException e = assertThrows(TesseraException.class, () -> PtxModules.load(PtxSource.RUNTIME, "no_such_module", 90));
        assertTrue(e.getMessage().startsWith("CUDA kernels missing: no PTX for module 'no_such_module'"), e.getMessage());
        assertTrue(e.getMessage().contains("nvcc"), e.getMessage());
    }

    @Test
    void entriesAreReadFromPtxText() {
        byte[] ptx = ".visible .entry add_f32(\n .param .u64 a\n)\n.visible .entry fill_bf16(\n)".getBytes(StandardCharsets.US_ASCII);
        assertEquals(List.of("add_f32", "fill_bf16"), PtxModules.entries(ptx));
    }
}
