package dev.tessera.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.kernels.routing.Chunks;
import dev.tessera.kernels.routing.Routing;
import dev.tessera.kernels.routing.RoutingState;
import dev.tessera.kernels.routing.StepRouting;
import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.ScanResult;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.spi.KernelSupport;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Without {@code jdk.incubator.vector} every fused kernel's F32 CPU path falls back to the float64 reference. A child
 * JVM runs {@link Main} on the class path without {@code --add-modules jdk.incubator.vector}: each fused op forward
 * and backward on small F32 inputs. Its printed results must match the same ops computed here, where the Vector API
 * kernels run.
 */
class ScalarFallbackKernelsTest {
    /** Runs every fused op on fixed F32 inputs and prints each result as {@code RESULT name v0 v1 ...}. */
    public static final class Main {
        public static void main(String[] args) {
            System.out.println("VECTOR " + ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent());
            Map<String, double[]> out = new LinkedHashMap<>();
            boolean failed = false;
            for (String section : SECTIONS) { // each op on its own, so that a failure names every op it hits
                try {
                    out.putAll(results(section));
                } catch (Throwable t) {
                    failed = true;
                    System.out.println("FAILED " + section);
                    t.printStackTrace(System.out);
                }
            }
            for (Map.Entry<String, double[]> e : out.entrySet()) {
                StringBuilder line = new StringBuilder("RESULT ").append(e.getKey());
                for (double v : e.getValue()) line.append(' ').append(v);
                System.out.println(line);
            }
            System.out.println(failed ? "FAILED" : "DONE");
            System.exit(failed ? 1 : 0);
        }

        static final List<String> SECTIONS = List.of("scan", "attention", "routing", "routingState", "swiglu");

        /** Deterministic F32 values: scale·sin(1.7·seed + 0.91·i) + shift. */
        static float[] values(int seed, int n, double scale, double shift) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) v[i] = (float) (scale * Math.sin(1.7 * seed + 0.91 * i) + shift);
            return v;
        }

        static Tensor leaf(int seed, double scale, double shift, int... shape) {
            return Tensor.of(values(seed, Arrays.stream(shape).reduce(1, (a, b) -> a * b), scale, shift), shape).requiresGrad(true);
        }

        static Tensor fixed(int seed, int... shape) { return leaf(seed, 1, 0, shape).detach(); }

        /** One section's outputs and gradients, in a fixed order. */
        static Map<String, double[]> results(String section) {
            Map<String, double[]> out = new LinkedHashMap<>();
            try (Scope s = Scope.open()) {
                switch (section) {
                    case "scan" -> scan(out);
                    case "attention" -> attention(out);
                    case "routing" -> routing(out);
                    case "routingState" -> routingState(out);
                    case "swiglu" -> swiglu(out);
                    default -> throw new IllegalArgumentException(section);
                }
            }
            return out;
        }

        private static void scan(Map<String, double[]> out) {
            int b = 1, l = 6, h = 2, p = 3, g = 1, n = 4;
            Tensor x = leaf(1, 1, 0, b, l, h, p), dt = leaf(2, 0.5, 0, b, l, h), a = leaf(3, 0.3, -0.8, h);
            Tensor bm = leaf(4, 0.5, 0, b, l, g, n), cm = leaf(5, 0.5, 0, b, l, g, n);
            Tensor dtBias = leaf(6, 0.5, 0, h), dSkip = leaf(7, 1, 0, h), z = leaf(8, 1, 0, b, l, h, p);
            Tensor init = leaf(9, 0.5, 0, b, h, p, n);
            ScanOptions o = ScanOptions.builder().dtBias(dtBias).softplus(true).dSkip(dSkip).z(z).initialState(init)
                    .returnFinalState(true).build();
            ScanResult r = SelectiveScan.apply(x, dt, a, bm, cm, o);
            r.y().mul(fixed(10, b, l, h, p)).sum().add(r.finalState().mul(fixed(11, b, h, p, n)).sum()).backward();
            out.put("scan.y", r.y().toDoubleArray());
            out.put("scan.final", r.finalState().toDoubleArray());
            String[] names = {"x", "dt", "A", "Bm", "Cm", "dtBias", "Dskip", "z", "init"};
            Tensor[] ins = {x, dt, a, bm, cm, dtBias, dSkip, z, init};
            for (int i = 0; i < ins.length; i++) out.put("scan.d" + names[i], ins[i].grad().toDoubleArray());

            // One decoding step from a state, which it advances in place.
            Tensor state = fixed(12, b, h, p, n);
            ScanOptions so = ScanOptions.builder().dtBias(dtBias.detach()).softplus(true).dSkip(dSkip.detach()).build();
            Tensor y = SelectiveScan.step(state, fixed(13, b, h, p), fixed(14, b, h), a.detach(), fixed(15, b, g, n), fixed(16, b, g, n), so);
            out.put("scan.step.y", y.toDoubleArray());
            out.put("scan.step.state", state.toDoubleArray());
        }

        private static void attention(Map<String, double[]> out) {
            int b = 1, hq = 2, hkv = 1, len = 5, d = 4;
            Tensor q = leaf(20, 1, 0, b, hq, len, d), k = leaf(21, 1, 0, b, hkv, len, d), v = leaf(22, 1, 0, b, hkv, len, d);
            Tensor bias = leaf(23, 0.5, 0, b, len);
            FlashAttention.Result r = FlashAttention.forward(q, k, v, AttentionOptions.builder().causal(true).keyBias(bias).build());
            r.output().mul(fixed(24, b, hq, len, d)).sum().backward();
            out.put("attn.out", r.output().toDoubleArray());
            out.put("attn.lse", r.logsumexp().toDoubleArray());
            out.put("attn.dq", q.grad().toDoubleArray());
            out.put("attn.dk", k.grad().toDoubleArray());
            out.put("attn.dv", v.grad().toDoubleArray());
            out.put("attn.dbias", bias.grad().toDoubleArray());

            // Existence mode (one log p tensor for queries and keys), bidirectional.
            Tensor q2 = leaf(25, 1, 0, b, hq, len, d), k2 = leaf(26, 1, 0, b, hkv, len, d), v2 = leaf(27, 1, 0, b, hkv, len, d);
            Tensor logp = leaf(28, 0.4, -0.5, b, len);
            Tensor o2 = FlashAttention.apply(q2, k2, v2, AttentionOptions.builder().existence(logp).build());
            o2.mul(fixed(29, b, hq, len, d)).sum().backward();
            out.put("attn.exist.out", o2.toDoubleArray());
            out.put("attn.exist.dq", q2.grad().toDoubleArray());
            out.put("attn.exist.dk", k2.grad().toDoubleArray());
            out.put("attn.exist.dv", v2.grad().toDoubleArray());
            out.put("attn.exist.dlogp", logp.grad().toDoubleArray());
        }

        private static void routing(Map<String, double[]> out) {
            int b = 1, len = 10, d = 4;
            Tensor q = Tensor.of(routeQ(len, d), b, len, d).requiresGrad(true), k = Tensor.of(routeK(len, d), b, len, d).requiresGrad(true);
            Tensor x = leaf(32, 1, 0, b, len, d);
            Routing r = ChunkRouter.route(q, k);
            Chunks ch = ChunkRouter.chunk(x, r.b());
            Tensor zhat = ch.x().tanh();
            Tensor z = ChunkRouter.dechunk(zhat, r.p(), r.b(), r.c());
            z.mul(fixed(33, b, len, d)).sum().add(r.c().mul(fixed(34, b, len)).sum()).backward();
            out.put("route.p", r.p().toDoubleArray());
            out.put("route.b", r.b().toDoubleArray());
            out.put("route.c", r.c().toDoubleArray());
            out.put("chunk.x", ch.x().toDoubleArray());
            out.put("dechunk.out", z.toDoubleArray());
            out.put("route.dq", q.grad().toDoubleArray());
            out.put("route.dk", k.grad().toDoubleArray());
            out.put("chunk.dx", x.grad().toDoubleArray());
        }

        static float[] routeQ(int len, int d) { return values(30, len * d, 1, 0); }

        /** k_t = ±q_{t−1} + noise: the minus rows (t = 3, 6, 9) are boundaries, p far from 0.5 everywhere. */
        static float[] routeK(int len, int d) {
            float[] qv = routeQ(len, d), kv = values(31, len * d, 0.6, 0);
            for (int t = 1; t < len; t++) {
                for (int j = 0; j < d; j++) kv[t * d + j] += (t % 3 == 0 ? -1 : 1) * qv[(t - 1) * d + j];
            }
            return kv;
        }

        /** The decoding state, one position at a time, on the routing section's q and k. */
        private static void routingState(Map<String, double[]> out) {
            int len = 10, d = 4;
            float[] qv = routeQ(len, d), kv = routeK(len, d), xv = values(32, len * d, 1, 0);
            RoutingState state = RoutingState.create(1, d, DType.F32);
            double[] p = new double[len], z = new double[len * d];
            for (int t = 0; t < len; t++) {
                StepRouting r = state.route(Tensor.of(Arrays.copyOfRange(qv, t * d, t * d + d), 1, d),
                        Tensor.of(Arrays.copyOfRange(kv, t * d, t * d + d), 1, d));
                p[t] = r.p().toDoubleArray()[0];
                Tensor zhat = r.boundaryRows().length == 0 ? null : Tensor.of(Arrays.copyOfRange(xv, t * d, t * d + d), 1, d).tanh();
                System.arraycopy(state.dechunk(zhat).toDoubleArray(), 0, z, t * d, d);
            }
            out.put("state.p", p);
            out.put("state.z", z);
        }

        private static void swiglu(Map<String, double[]> out) {
            Tensor x = leaf(40, 2, 0, 3, 10);
            Tensor y = SwiGlu.apply(x);
            y.mul(fixed(41, 3, 5)).sum().backward();
            out.put("swiglu.y", y.toDoubleArray());
            out.put("swiglu.dx", x.grad().toDoubleArray());
        }
    }

    private static String path(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    @Test
    void everyFusedKernelRunsWithoutTheVectorModule() throws Exception {
        assertTrue(KernelSupport.vectorAvailable(), "this JVM must run the Vector API kernels, to compare with");
        Map<String, double[]> want = new LinkedHashMap<>();
        for (String section : Main.SECTIONS) want.putAll(Main.results(section));
        double[] p = want.get("route.p");
        for (int i = 1; i < p.length; i++) { // boundary decisions must not hinge on rounding
            assertTrue(Math.abs(p[i] - 0.5) > 1e-3, "route p[" + i + "] = " + p[i] + " is too close to 0.5 for a stable test");
        }

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cp = new ArrayList<>(List.of(path(Tensor.class), path(SelectiveScan.class), path(ScalarFallbackKernelsTest.class)));
        try { // the runtime's CUDA binding, as a user's class path has it; never loaded on the CPU path
            cp.add(path(Class.forName("jcuda.Pointer")));
        } catch (ClassNotFoundException absent) {
            // not needed for the CPU path
        }
        Process proc = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", String.join(File.pathSeparator, cp),
                Main.class.getName())).redirectErrorStream(true).start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(120, TimeUnit.SECONDS), "child JVM finished:\n" + out);
        assertEquals(0, proc.exitValue(), out);
        assertTrue(out.contains("VECTOR false"), "the child runs without jdk.incubator.vector:\n" + out);
        assertFalse(out.contains("Exception") || out.contains("Error") || out.contains("FAILED"), "the child printed no exception:\n" + out);
        assertTrue(out.contains("SCALAR fallback") && out.contains("DONE"), "warns about the scalar path and finishes:\n" + out);

        Map<String, double[]> got = new LinkedHashMap<>();
        for (String line : out.split("\\R")) {
            if (!line.startsWith("RESULT ")) continue;
            String[] f = line.split(" ");
            double[] v = new double[f.length - 2];
            for (int i = 0; i < v.length; i++) v[i] = Double.parseDouble(f[i + 2]);
            got.put(f[1], v);
        }
        assertEquals(want.keySet(), got.keySet(), "the child printed every result:\n" + out);
        for (Map.Entry<String, double[]> e : want.entrySet()) {
            double[] w = e.getValue(), g = got.get(e.getKey());
            assertEquals(w.length, g.length, e.getKey());
            for (int i = 0; i < w.length; i++) {
                assertTrue(Math.abs(w[i] - g[i]) <= 1e-4 * Math.max(1, Math.abs(w[i])),
                        e.getKey() + "[" + i + "]: vector " + w[i] + " vs scalar fallback " + g[i]);
            }
        }
    }
}
