package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Without {@code jdk.incubator.vector} the runtime computes with scalar code and says so once, loudly. A child JVM
 * runs {@link Main} on the class path without {@code --add-modules jdk.incubator.vector}.
 */
class ScalarFallbackTest {
    /** Runs a few ops whose results are known and prints them. */
    public static final class Main {
        public static void main(String[] args) {
            Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 4, 5);
            double sum = x.add(x).sum().item();                     // 420
            double soft = x.softmax(-1).sum().item();               // 4 rows of probabilities: 4
            double mm = x.matmul(x.t()).get(0, 0);                  // 1+4+9+16+25 = 55
            double ln = Functional.layerNorm(x, null, null, 0).pow(2).mean().item(); // unit variance rows: 1
            System.out.println("RESULT " + sum + " " + soft + " " + mm + " " + Math.round(ln * 1e4) / 1e4);
        }
    }

    private static String path(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    @Test
    void runsScalarAndSaysSo() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = path(Tensor.class) + File.pathSeparator + path(ScalarFallbackTest.class);
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", cp, Main.class.getName()))
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("SCALAR fallback") && out.contains("jdk.incubator.vector"), "warns about the scalar path:\n" + out);
        assertTrue(out.contains("RESULT 420.0 4.0 55.0 1.0"), "computes correctly:\n" + out);
    }
}
