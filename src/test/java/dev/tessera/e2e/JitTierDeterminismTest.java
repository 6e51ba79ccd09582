package dev.tessera.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.models.cli.TesseraCli;
import dev.tessera.models.hnet.HNetConfig;
import dev.tessera.models.hnet.HNetLM;
import dev.tessera.nn.SafeTensors;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model's output must not depend on how warm the JIT is. The Vector API's {@code lanewise(EXP)} and
 * {@code reduceLanes(ADD)} give different bits once C2 compiles them than in the tiers before, which once made a
 * score differ in the last bit from the same forward run earlier in the same JVM. Here a JVM that never leaves C1
 * (no vector intrinsics) scores a text, and this JVM scores it after warming every kernel up: the logits and
 * boundary probabilities must be identical bits.
 */
class JitTierDeterminismTest {
    private static final String TEXT = "public static void main(String[] args) { System.out.println(\"bytes, not tokens\"); }\n"
            .repeat(4);

    @Test
    void scoresAreTheSameBitsInAColdC1OnlyJvmAndAWarmC2Jvm(@TempDir Path dir) throws Exception {
        HNetConfig cfg = HNetConfig.preset("hnet-tiny");
        Path checkpoint = dir.resolve("model.safetensors");
        try (HNetLM m = new HNetLM(cfg, new Generator(3))) {
            SafeTensors.write(checkpoint, m.stateDict(), Map.of("config", cfg.toJson()));
            m.eval();
            byte[] bytes = TEXT.getBytes(StandardCharsets.UTF_8);
            long[] in = new long[bytes.length];
            for (int i = 0; i < in.length; i++) in[i] = bytes[i] & 0xFF;
            for (int i = 0; i < 60; i++) { // enough calls for C2 to compile the kernels' loops
                try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
                    m.forward(Tensor.of(in, 1, in.length));
                }
            }
        }
        Path warm = dir.resolve("warm.safetensors"), cold = dir.resolve("cold.safetensors");
        assertEquals(0, TesseraCli.run("score", "--checkpoint", checkpoint.toString(), "--text", TEXT, "--out", warm.toString(),
                "--device", "cpu"));

        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        // This JVM's -XX options (a vector width, say) must hold in the child too; only the compilation tiers differ.
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-XX:") && !arg.contains("Tiered")) cmd.add(arg);
        }
        cmd.addAll(List.of("-XX:TieredStopAtLevel=1", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), TesseraCli.class.getName(),
                "score", "--checkpoint", checkpoint.toString(), "--text", TEXT, "--out", cold.toString(), "--device", "cpu"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        boolean done = p.waitFor(5, TimeUnit.MINUTES);
        if (!done) p.destroyForcibly();
        assertEquals(0, done ? p.exitValue() : -1, () -> "child JVM failed: " + read(dir.resolve("child.log")));

        Map<String, Tensor> a = SafeTensors.read(warm), b = SafeTensors.read(cold);
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(bits(a.get(name)), bits(b.get(name)), name + ": warm C2 and cold C1 differ");
        }
    }

    private static int[] bits(Tensor t) {
        float[] v = t.toFloatArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Float.floatToRawIntBits(v[i]);
        return out;
    }

    private static String read(Path p) {
        try { return Files.readString(p); } catch (Exception e) { return "(no log: " + e + ")"; }
    }
}
