package dev.tessera.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.kernels.attention.AttentionOptions;
import dev.tessera.kernels.attention.FlashAttention;
import dev.tessera.kernels.attention.ProbabilisticAttention;
import dev.tessera.kernels.norm.GatedRmsNorm;
import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.kernels.routing.Chunks;
import dev.tessera.kernels.rotary.Rotary;
import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.kernels.swiglu.SwiGlu;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused kernels' fast paths (the CPU's Vector API kernels for F32, the CUDA kernels for F32 and F64) on inputs
 * laid out at random — selected from a wider base, permuted, narrowed, strided — against their float64 references
 * on contiguous copies of the same values: outputs, and the gradients of every input from Σ out ⊙ W (W random).
 * Shapes and options are drawn at random too (sizes at and off the vector length, grouped heads, gates, biases,
 * causal and windowed attention with and without a key bias, probabilistic self- and cross-attention, padded and
 * packed routing). {@code -Dfuzz.programs=N}, {@code -Dfuzz.seed=S}; a failure names its program's
 * seed, which {@code -Dfuzz.only=SEED} runs alone.
 */
class FusedKernelFuzzTest {
    private static final long SEED = Long.getLong("fuzz.seed", 20261207L);
    private static final Long ONLY = Long.getLong("fuzz.only");

    @Test
    void randomProgramsMatchTheReferences() { fuzz(Device.cpu(), DType.F32, Integer.getInteger("fuzz.programs", 400)); }

    @Test
    @Tag("gpu")
    void randomProgramsMatchTheReferencesOnCuda() {
        Device cuda = CudaTests.assumeGpu();
        int programs = Integer.getInteger("fuzz.cudaPrograms", 120);
        fuzz(cuda, DType.F32, programs);
        fuzz(cuda, DType.F64, programs / 2);
    }

    /**
     * Decoding: {@link SelectiveScan#step} run position by position from a zero state (each position's inputs strided
     * views, as a layer's projection gives them) reproduces the parallel scan's outputs and final state, on random
     * shapes and options.
     */
    @Test
    void scanStepsReproduceTheParallelScan() { stepFuzz(Device.cpu(), Integer.getInteger("fuzz.stepPrograms", 150)); }

    @Test
    @Tag("gpu")
    void scanStepsReproduceTheParallelScanOnCuda() { stepFuzz(CudaTests.assumeGpu(), Integer.getInteger("fuzz.cudaStepPrograms", 60)); }

    private static void stepFuzz(Device device, int programs) {
        runPrograms("scan step fuzz on " + device, programs, 0x5CA9L, (seed, what) -> {
            SplittableRandom r = new SplittableRandom(seed);
            int b = 1 + r.nextInt(3), l = size(r), groups = 1 + r.nextInt(2), h = groups * (1 + r.nextInt(2)), p = size(r), n = size(r);
            boolean softplus = r.nextBoolean(), bias = r.nextBoolean(), skip = r.nextBoolean(), gate = r.nextBoolean();
            what.append("B ").append(b).append(", L ").append(l).append(", H ").append(h).append(", G ").append(groups).append(", P ").append(p)
                    .append(", N ").append(n).append(softplus ? ", softplus" : "").append(bias ? ", dtBias" : "").append(skip ? ", D" : "")
                    .append(gate ? ", z" : "");
            // One projection [B, L, width] holding x, z, B, C and dt side by side, as Mamba-2's input projection does.
            int width = 2 * h * p + 2 * groups * n + h;
            dev.tessera.runtime.Generator g = new dev.tessera.runtime.Generator(seed);
            Tensor proj = Tensor.randn(g, b, l, width).to(device);
            Tensor x = proj.narrow(2, 0, h * p).reshape(b, l, h, p), z = proj.narrow(2, h * p, h * p).reshape(b, l, h, p);
            Tensor bm = proj.narrow(2, 2 * h * p, groups * n).reshape(b, l, groups, n);
            Tensor cm = proj.narrow(2, 2 * h * p + groups * n, groups * n).reshape(b, l, groups, n);
            Tensor dt = proj.narrow(2, 2 * h * p + 2 * groups * n, h);
            if (!softplus) dt = dt.abs().add(0.05);
            Tensor a = Tensor.rand(g, h).add(0.1).neg().to(device), dtBias = Tensor.randn(g, h).mul(0.5).to(device), dSkip = Tensor.randn(g, h).to(device);
            java.util.function.Function<Tensor, ScanOptions.Builder> options = gateOf -> {
                ScanOptions.Builder o = ScanOptions.builder().softplus(softplus);
                if (bias) o.dtBias(dtBias);
                if (skip) o.dSkip(dSkip);
                if (gate) o.z(gateOf);
                return o;
            };
            var whole = SelectiveScan.apply(x, dt, a, bm, cm, options.apply(z).returnFinalState(true).build());
            Tensor state = Tensor.zeros(DType.F32, device, b, h, p, n);
            List<Tensor> ys = new ArrayList<>();
            for (int t = 0; t < l; t++) {
                ScanOptions at = options.apply(z.select(1, t)).build();
                ys.add(SelectiveScan.step(state, x.select(1, t), dt.select(1, t), a, bm.select(1, t), cm.select(1, t), at).unsqueeze(1));
            }
            String bad = Program.compare("outputs", Tensor.cat(ys, 1).to(Device.cpu()).toDoubleArray(), whole.y().to(Device.cpu()).toDoubleArray(), 1e-4);
            return bad != null ? bad
                    : Program.compare("final state", state.to(Device.cpu()).toDoubleArray(), whole.finalState().to(Device.cpu()).toDoubleArray(), 1e-4);
        });
    }

    /**
     * Decoding: {@link dev.tessera.kernels.conv.CausalConvStep} run position by position from a zero state (each
     * position's input a strided slice of a wider projection) reproduces the parallel causal convolution bit for bit,
     * outputs and the final state (the last K−1 inputs), on random shapes, widths and dtypes.
     */
    @Test
    void convolutionStepsReproduceTheParallelConvolution() { convStepFuzz(Device.cpu(), Integer.getInteger("fuzz.stepPrograms", 150)); }

    @Test
    @Tag("gpu")
    void convolutionStepsReproduceTheParallelConvolutionOnCuda() {
        convStepFuzz(CudaTests.assumeGpu(), Integer.getInteger("fuzz.cudaStepPrograms", 60));
    }

    private static void convStepFuzz(Device device, int programs) {
        runPrograms("convolution step fuzz on " + device, programs, 0xC0DEL, (seed, what) -> {
            SplittableRandom r = new SplittableRandom(seed);
            int b = 1 + r.nextInt(3), l = size(r), c = size(r) + r.nextInt(40), k = 2 + r.nextInt(3), extra = r.nextInt(9);
            boolean bias = r.nextBoolean();
            DType dt = r.nextInt(4) == 0 ? DType.F64 : DType.F32;
            what.append("B ").append(b).append(", L ").append(l).append(", C ").append(c).append(", K ").append(k).append(", ").append(dt)
                    .append(bias ? ", bias" : "");
            dev.tessera.runtime.Generator g = new dev.tessera.runtime.Generator(seed);
            try (dev.tessera.runtime.Grad.Region nog = dev.tessera.runtime.Grad.noGrad()) {
                Tensor proj = Tensor.randn(g, b, l, c + extra).to(dt).to(device), x = proj.narrow(2, extra / 2, c);
                Tensor w = Tensor.randn(g, c, k).to(dt).to(device), bi = bias ? Tensor.randn(g, c).to(dt).to(device) : null;
                Tensor whole = dev.tessera.runtime.Functional.causalConv1d(x, w, bi);
                Tensor state = Tensor.zeros(dt, device, b, k - 1, c);
                List<Tensor> ys = new ArrayList<>();
                for (int t = 0; t < l; t++) ys.add(dev.tessera.kernels.conv.CausalConvStep.apply(state, x.select(1, t), w, bi).unsqueeze(1));
                String bad = Program.compare("outputs", Tensor.cat(ys, 1).to(Device.cpu()).toDoubleArray(), whole.to(Device.cpu()).toDoubleArray(), 0);
                if (bad != null) return bad;
                Tensor last = l >= k - 1 ? x.narrow(1, l - (k - 1), k - 1)
                        : Tensor.cat(List.of(Tensor.zeros(dt, device, b, k - 1 - l, c), x), 1);
                return Program.compare("final state", state.to(Device.cpu()).toDoubleArray(), last.to(Device.cpu()).toDoubleArray(), 0);
            }
        });
    }

    /**
     * Decoding: a {@link dev.tessera.kernels.attention.KvCache} filled a few positions at a time (a prompt, then single
     * steps), each step's queries attending over it, reproduces one causal (optionally windowed) attention over the
     * whole sequence, with grouped heads, several rows and a cache larger than the sequence.
     */
    @Test
    void cachedAttentionReproducesTheFullAttention() { cacheFuzz(Device.cpu(), Integer.getInteger("fuzz.stepPrograms", 150)); }

    @Test
    @Tag("gpu")
    void cachedAttentionReproducesTheFullAttentionOnCuda() { cacheFuzz(CudaTests.assumeGpu(), Integer.getInteger("fuzz.cudaStepPrograms", 60)); }

    private static void cacheFuzz(Device device, int programs) {
        runPrograms("kv cache fuzz on " + device, programs, 0xCAC4EL, (seed, what) -> {
            SplittableRandom r = new SplittableRandom(seed);
            int b = 1 + r.nextInt(3), hk = 1 + r.nextInt(2), hq = hk * (1 + r.nextInt(3)), p = size(r), l = size(r) + r.nextInt(8);
            int window = r.nextBoolean() ? 1 + r.nextInt(l) : -1;
            what.append("B ").append(b).append(", Hq ").append(hq).append(", Hkv ").append(hk).append(", P ").append(p).append(", L ").append(l)
                    .append(window > 0 ? ", window " + window : "");
            try (var cache = dev.tessera.kernels.attention.KvCache.create(b, hk, l + r.nextInt(4), p, DType.F32, device)) {
                dev.tessera.runtime.Generator g = new dev.tessera.runtime.Generator(seed);
                Tensor q = Tensor.randn(g, b, hq, l, p).to(device), k = Tensor.randn(g, b, hk, l, p).to(device), v = Tensor.randn(g, b, hk, l, p).to(device);
                AttentionOptions.Builder o = AttentionOptions.builder().causal(true);
                if (window > 0) o.window(window);
                AttentionOptions options = o.build();
                Tensor full = FlashAttention.apply(q, k, v, options);
                List<Tensor> parts = new ArrayList<>();
                int t = 0;
                while (t < l) {
                    int n = t == 0 ? 1 + r.nextInt(l) : r.nextInt(4) == 0 ? Math.min(l - t, 1 + r.nextInt(3)) : 1; // a prompt, then mostly single steps
                    cache.append(k.narrow(2, t, n), v.narrow(2, t, n));
                    parts.add(cache.attend(q.narrow(2, t, n), options));
                    t += n;
                }
                return Program.compare("outputs", Tensor.cat(parts, 2).to(Device.cpu()).toDoubleArray(), full.to(Device.cpu()).toDoubleArray(), 1e-5);
            }
        });
    }

    /** Thrown by a program that cannot be compared (a routing decision at the threshold, a problem the kernel under test does not take). */
    static final class Skip extends RuntimeException {
        Skip() { super(null, null, false, false); }
    }

    /** The CUDA tensor-core attention kernel (BF16, head dims 48–128) on random problems, against the float64 reference. */
    @Test
    @Tag("gpu")
    void tensorCoreAttentionMatchesTheReferenceOnCuda() {
        Device cuda = CudaTests.assumeGpu();
        runPrograms("tensor-core attention fuzz on " + cuda, Integer.getInteger("fuzz.cudaPrograms", 120) / 4, 0x7E45L, (seed, what) -> {
            Program p = Program.tensorCoreAttention(new SplittableRandom(seed));
            what.append(p);
            return p.check(cuda, DType.BF16);
        });
    }

    private static void fuzz(Device device, DType dtype, int programs) {
        runPrograms("fused kernel fuzz on " + device + ", " + dtype, programs, 0, (seed, what) -> {
            Program p = Program.random(new SplittableRandom(seed));
            what.append(p);
            return p.check(device, dtype);
        });
    }

    /**
     * Runs {@code programs} checks, each from a seed of its own (drawn from the run's seed and {@code salt}), in a
     * scope of its own; a check describes its program into {@code what} and returns null when it passes, else what
     * differs. Asserts at the end that none failed, listing the first failures with their seeds.
     */
    private static void runPrograms(String label, int programs, long salt, java.util.function.BiFunction<Long, StringBuilder, String> check) {
        List<String> failures = new ArrayList<>();
        SplittableRandom seeds = new SplittableRandom(SEED ^ salt);
        int ran = 0, skipped = 0;
        for (int i = 0; i < programs; i++) {
            long seed = seeds.nextLong();
            if (ONLY != null && seed != ONLY) continue;
            StringBuilder what = new StringBuilder();
            try (Scope s = Scope.open()) {
                String failure = check.apply(seed, what);
                if (failure != null) failures.add("program seed " + seed + " (" + what + "): " + failure);
            } catch (Skip e) {
                skipped++;
            } catch (RuntimeException | AssertionError e) {
                failures.add("program seed " + seed + " (" + what + "): threw " + e);
            }
            ran++;
        }
        System.out.printf("%s: %d programs (seed %d), %d skipped, %d failed%n", label, ran, SEED, skipped, failures.size());
        assertTrue(failures.isEmpty(), failures.size() + " of " + ran + " programs failed; the first ones:\n"
                + String.join("\n", failures.subList(0, Math.min(8, failures.size()))));
    }

    /** Sizes at and off the vector lengths. */
    private static final int[] SIZES = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};

    private static int size(SplittableRandom r) { return SIZES[r.nextInt(SIZES.length)]; }

    /**
     * How one input sits in its base: an extra leading dim it selects one index of (or none), its dims stored in a
     * permuted order, wider in some dims (a narrow at an offset), every second element in some (a slice of step 2).
     */
    record Layout(int[] shape, int select, int selectSize, int[] perm, int[] offset, int[] extra, boolean[] stepped, int[] baseShape) {
        static Layout random(int[] shape, SplittableRandom r) {
            int n = shape.length;
            int[] offset = new int[n], extra = new int[n], inner = new int[n];
            boolean[] stepped = new boolean[n];
            for (int d = 0; d < n; d++) {
                int s = shape[d];
                stepped[d] = s > 1 && r.nextInt(5) == 0;
                if (stepped[d]) s = 2 * s - 1 + r.nextInt(2);
                if (r.nextInt(3) == 0) {
                    extra[d] = 1 + r.nextInt(3);
                    offset[d] = r.nextInt(extra[d] + 1);
                }
                inner[d] = s + extra[d];
            }
            int[] perm = new int[n];
            for (int i = 0; i < n; i++) perm[i] = i;
            if (n > 1 && r.nextInt(3) == 0) {
                for (int i = n - 1; i > 0; i--) {
                    int j = r.nextInt(i + 1), t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
            }
            int selectSize = r.nextInt(4) == 0 ? 2 + r.nextInt(2) : 0;
            int[] stored = new int[n];
            for (int i = 0; i < n; i++) stored[i] = inner[perm[i]];
            int[] base = stored;
            if (selectSize != 0) {
                base = new int[n + 1];
                base[0] = selectSize;
                System.arraycopy(stored, 0, base, 1, n);
            }
            return new Layout(shape.clone(), selectSize == 0 ? 0 : r.nextInt(selectSize), selectSize, perm, offset, extra, stepped, base);
        }

        Tensor view(Tensor base) {
            int n = shape.length;
            Tensor t = selectSize != 0 ? base.select(0, select) : base;
            int[] inverse = new int[n];
            for (int i = 0; i < n; i++) inverse[perm[i]] = i;
            if (n > 1) t = t.permute(inverse);
            for (int d = 0; d < n; d++) {
                int s = t.size(d) - extra[d];
                if (extra[d] != 0) t = t.narrow(d, offset[d], s);
                if (stepped[d]) t = t.slice(d, 0, s, 2);
            }
            return t;
        }

        @Override
        public String toString() {
            return Arrays.toString(shape) + (Arrays.equals(shape, baseShape) ? "" : " in " + Arrays.toString(baseShape));
        }
    }

    /** What an input's values are drawn from. */
    enum Values { ANY, POSITIVE, NEGATIVE }

    record Input(String name, Layout layout, Values values) {}

    /** One fused op with its inputs' layouts; {@code op} builds the output from the inputs in the order given. */
    record Program(String name, Input[] inputs, Function<Tensor[], Tensor> op, long valueSeed) {
        static Program random(SplittableRandom r) {
            int kind = r.nextInt(7);
            return switch (kind) {
                case 0 -> {
                    int[] s = lead(r, 2);
                    s[s.length - 1] = 2 * size(r);
                    yield new Program("swiglu", new Input[] {in("x", s, r)}, x -> SwiGlu.apply(x[0]), r.nextLong());
                }
                case 1 -> {
                    int[] s = lead(r, 2);
                    s[s.length - 1] = Math.max(4, size(r)); // rows of at least 4: see OpFuzzTest's norms
                    yield new Program("gated_rms_norm", new Input[] {in("x", s, r), in("z", s, r), in("weight", new int[] {s[s.length - 1]}, r)},
                            x -> GatedRmsNorm.apply(x[0], x[1], x[2], 1e-5), r.nextLong());
                }
                case 2 -> {
                    int l = size(r), p = 2 * (1 + r.nextInt(12)), half = 1 + r.nextInt(p / 2);
                    int[] s = r.nextBoolean() ? new int[] {1 + r.nextInt(2), 1 + r.nextInt(3), l, p} : new int[] {1 + r.nextInt(3), l, p};
                    yield new Program("rotary", new Input[] {in("x", s, r), in("cos", new int[] {l, half}, r), in("sin", new int[] {l, half}, r)},
                            x -> Rotary.apply(x[0], x[1].detach(), x[2].detach()), r.nextLong());
                }
                case 3 -> scan(r);
                case 4 -> routing(r);
                case 5 -> probabilistic(r);
                default -> attention(r);
            };
        }

        /** [a, b] or [a, b, c] with small leading dims; the caller sets the last. */
        static int[] lead(SplittableRandom r, int maxLead) {
            int[] s = new int[1 + r.nextInt(maxLead + 1)];
            for (int d = 0; d < s.length - 1; d++) s[d] = 1 + r.nextInt(5);
            return s;
        }

        static Input in(String name, int[] shape, SplittableRandom r) { return new Input(name, Layout.random(shape, r), Values.ANY); }

        static Program scan(SplittableRandom r) {
            int b = 1 + r.nextInt(2), l = size(r), groups = 1 + r.nextInt(2), h = groups * (1 + r.nextInt(2)), p = size(r), n = size(r);
            boolean softplus = r.nextBoolean(), bias = r.nextBoolean(), skip = r.nextBoolean(), gate = r.nextBoolean();
            List<Input> ins = new ArrayList<>(List.of(
                    in("x", new int[] {b, l, h, p}, r),
                    new Input("dt", Layout.random(new int[] {b, l, h}, r), softplus ? Values.ANY : Values.POSITIVE),
                    new Input("A", Layout.random(new int[] {h}, r), Values.NEGATIVE),
                    in("B", new int[] {b, l, groups, n}, r),
                    in("C", new int[] {b, l, groups, n}, r)));
            if (bias) ins.add(in("dtBias", new int[] {h}, r));
            if (skip) ins.add(in("D", new int[] {h}, r));
            if (gate) ins.add(in("z", new int[] {b, l, h, p}, r));
            String name = "selective_scan" + (softplus ? " softplus" : "") + (bias ? " dtBias" : "") + (skip ? " D" : "") + (gate ? " z" : "");
            return new Program(name, ins.toArray(Input[]::new), x -> {
                int k = 5;
                ScanOptions.Builder o = ScanOptions.builder().softplus(softplus);
                if (bias) o.dtBias(x[k++]);
                if (skip) o.dSkip(x[k++]);
                if (gate) o.z(x[k]);
                return SelectiveScan.apply(x[0], x[1], x[2], x[3], x[4], o.build()).y();
            }, r.nextLong());
        }

        /**
         * One H-Net stage's routing end to end: route from q and k, chunk x at the boundaries, an elementwise inner
         * network, dechunk, and the ratio loss added to every output; padded rows, or packed sequences in one row.
         * A program whose reference has a boundary probability within 1e−3 of the threshold 0.5 is skipped, since
         * rounding may then decide the boundary differently.
         */
        static Program routing(SplittableRandom r) {
            boolean packed = r.nextInt(3) == 0;
            int b = packed ? 1 : 1 + r.nextInt(3), l = size(r) + (packed ? 8 : 0), d = size(r);
            int[] cu = null;
            if (packed) {
                List<Integer> starts = new ArrayList<>(List.of(0));
                for (int t = 1; t < l; t++) if (r.nextInt(6) == 0) starts.add(t);
                starts.add(l);
                cu = starts.stream().mapToInt(Integer::intValue).toArray();
            }
            int[] cuSeqlens = cu;
            int[] shape = {b, l, d};
            return new Program("chunk_routing" + (packed ? " packed " + Arrays.toString(cu) : ""),
                    new Input[] {in("q", shape, r), in("k", shape, r), in("x", shape, r)}, x -> {
                        Tensor cuT = cuSeqlens == null ? null : Tensor.of(Arrays.stream(cuSeqlens).asLongStream().toArray(), cuSeqlens.length)
                                .to(x[0].device());
                        dev.tessera.kernels.routing.Routing rt = cuT == null ? ChunkRouter.route(x[0], x[1]) : ChunkRouter.routePacked(x[0], x[1], cuT);
                        for (double p : rt.p().to(DType.F64).to(Device.cpu()).toDoubleArray()) {
                            if (Math.abs(p - 0.5) < 1e-3) throw new Skip();
                        }
                        Chunks ch = cuT == null ? ChunkRouter.chunk(x[2], rt.b()) : ChunkRouter.chunkPacked(x[2], rt.b(), cuT);
                        Tensor inner = ch.x().tanh();
                        Tensor z = cuT == null ? ChunkRouter.dechunk(inner, ch, rt.p(), rt.c())
                                : ChunkRouter.dechunkPacked(inner, rt.p(), rt.b(), rt.c(), cuT);
                        return z.add(ChunkRouter.ratioLoss(rt.b(), rt.p(), 3));
                    }, r.nextLong());
        }

        /** Causal, windowed or full attention, grouped heads, sometimes an additive per-key bias (with its gradient). */
        static Program attention(SplittableRandom r) {
            int b = 1 + r.nextInt(2), hk = 1 + r.nextInt(2), hq = hk * (1 + r.nextInt(2)), p = size(r), lk = size(r);
            boolean causal = r.nextBoolean(), bias = r.nextInt(3) == 0;
            int lq = causal ? lk : size(r), window = causal && r.nextBoolean() ? 1 + r.nextInt(lk) : -1;
            String name = "flash_attention" + (causal ? " causal" : "") + (window > 0 ? " window " + window : "") + (bias ? " keyBias" : "");
            List<Input> ins = new ArrayList<>(List.of(in("q", new int[] {b, hq, lq, p}, r), in("k", new int[] {b, hk, lk, p}, r),
                    in("v", new int[] {b, hk, lk, p}, r)));
            if (bias) ins.add(in("keyBias", r.nextBoolean() ? new int[] {b, lk} : new int[] {b, hq, lk}, r));
            return new Program(name, ins.toArray(Input[]::new), x -> {
                AttentionOptions.Builder o = AttentionOptions.builder().causal(causal);
                if (window > 0) o.window(window);
                if (bias) o.keyBias(x[3]);
                return FlashAttention.apply(x[0], x[1], x[2], o.build());
            }, r.nextLong());
        }

        /**
         * Attention in BF16 at the head dims the CUDA tensor-core kernel takes (48, 64, 96, 128): random lengths (tile
         * tails), grouped heads, causal or full (windows and single queries go to other kernels: such a problem is skipped).
         */
        static Program tensorCoreAttention(SplittableRandom r) {
            int b = 1 + r.nextInt(2), hk = 1 + r.nextInt(2), hq = hk * (1 + r.nextInt(2)), p = new int[] {48, 64, 96, 128}[r.nextInt(4)];
            int lk = 1 + r.nextInt(80);
            boolean causal = r.nextBoolean();
            int lq = causal ? lk : 1 + r.nextInt(80);
            AttentionOptions options = AttentionOptions.builder().causal(causal).build();
            return new Program("flash_attention bf16" + (causal ? " causal" : ""),
                    new Input[] {in("q", new int[] {b, hq, lq, p}, r), in("k", new int[] {b, hk, lk, p}, r), in("v", new int[] {b, hk, lk, p}, r)},
                    x -> {
                        if (x[0].dtype() == DType.BF16 && !FlashAttention.tensorCoresTakeBf16(x[0], x[1], x[2], options)) throw new Skip();
                        return FlashAttention.apply(x[0], x[1], x[2], options);
                    }, r.nextLong());
        }

        /** Zonkey's probabilistic attention: self (one log p) or cross (the queries' and the keys' own), grouped heads. */
        static Program probabilistic(SplittableRandom r) {
            int b = 1 + r.nextInt(2), hk = 1 + r.nextInt(2), hq = hk * (1 + r.nextInt(2)), p = size(r), lk = size(r);
            boolean cross = r.nextBoolean();
            int lq = cross ? size(r) : lk;
            List<Input> ins = new ArrayList<>(List.of(in("q", new int[] {b, hq, lq, p}, r), in("k", new int[] {b, hk, lk, p}, r),
                    in("v", new int[] {b, hk, lk, p}, r)));
            // log p in [−1, −0.1]: every position exists with some probability, so every logit and gradient is finite.
            ins.add(new Input(cross ? "logpQ" : "logp", Layout.random(new int[] {b, lq}, r), Values.NEGATIVE));
            if (cross) ins.add(new Input("logpK", Layout.random(new int[] {b, lk}, r), Values.NEGATIVE));
            return new Program("probabilistic_attention" + (cross ? " cross" : ""), ins.toArray(Input[]::new),
                    x -> cross ? ProbabilisticAttention.cross(x[0], x[1], x[2], x[3], x[4]) : ProbabilisticAttention.apply(x[0], x[1], x[2], x[3]),
                    r.nextLong());
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(name);
            for (Input i : inputs) sb.append(", ").append(i.name).append(' ').append(i.layout);
            return sb.toString();
        }

        /** Null when outputs and gradients match the reference, else what differs. */
        String check(Device device, DType dtype) {
            SplittableRandom r = new SplittableRandom(valueSeed);
            int n = inputs.length;
            double[][] baseValues = new double[n][];
            for (int i = 0; i < n; i++) {
                int[] bs = inputs[i].layout.baseShape;
                double[] v = new double[Math.toIntExact(Arrays.stream(bs).asLongStream().reduce(1, (a, c) -> a * c))];
                for (int j = 0; j < v.length; j++) {
                    double m = 0.1 + 0.9 * r.nextDouble();
                    v[j] = (float) switch (inputs[i].values) {
                        case ANY -> r.nextBoolean() ? m : -m;
                        case POSITIVE -> m;
                        case NEGATIVE -> -m;
                    };
                }
                // BF16 inputs: the reference sees the same (rounded) values.
                baseValues[i] = dtype == DType.BF16 ? Tensor.of(v, v.length).to(DType.BF16).to(DType.F64).toDoubleArray() : v;
            }
            // Under test: the strided views of the bases, on the device, in dtype.
            Tensor[] bases = new Tensor[n], views = new Tensor[n];
            for (int i = 0; i < n; i++) {
                bases[i] = Tensor.of(baseValues[i], inputs[i].layout.baseShape).to(dtype).to(device).requiresGrad(true);
                views[i] = inputs[i].layout.view(bases[i]);
            }
            Tensor out = op.apply(views);
            // The reference: F64 contiguous copies of the same values on the CPU.
            Tensor[] refs = new Tensor[n];
            for (int i = 0; i < n; i++) {
                Tensor base = Tensor.of(baseValues[i], inputs[i].layout.baseShape);
                refs[i] = inputs[i].layout.view(base).contiguous().requiresGrad(true);
            }
            Tensor expected = op.apply(refs);
            double outputTolerance = dtype == DType.F64 ? 1e-10 : dtype == DType.BF16 ? 1.5e-2 : 2e-4;
            double gradientTolerance = dtype == DType.F64 ? 1e-9 : dtype == DType.BF16 ? 4e-2 : 1e-3;
            String bad = compare("output", out.to(DType.F64).to(Device.cpu()).toDoubleArray(), expected.toDoubleArray(), outputTolerance);
            if (bad != null) return bad;
            double[] w = new double[(int) expected.numel()];
            for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextDouble() * 2 - 1);
            Tensor w64 = Tensor.of(w, expected.shape());
            expected.mul(w64).sum().backward();
            out.mul(w64.to(dtype).to(device)).sum().backward();
            for (int i = 0; i < n; i++) {
                if (refs[i].grad() == null) continue; // an input the op takes as a constant (rotary's tables)
                // The reference's gradient written into a zero base through the same view: where the base's should be.
                Tensor want = Tensor.zeros(DType.F64, inputs[i].layout.baseShape);
                inputs[i].layout.view(want).copyFrom(refs[i].grad());
                double[] got = bases[i].grad() == null ? new double[(int) want.numel()] : bases[i].grad().to(DType.F64).to(Device.cpu()).toDoubleArray();
                bad = compare("gradient of " + inputs[i].name, got, want.toDoubleArray(), gradientTolerance);
                if (bad != null) return bad;
            }
            return null;
        }

        /** Within rtol of the larger of 1 and the largest expected magnitude; expected values must be finite. */
        private static String compare(String what, double[] got, double[] expected, double rtol) {
            if (got.length != expected.length) return what + ": " + got.length + " values, expected " + expected.length;
            double scale = 1;
            for (int i = 0; i < expected.length; i++) {
                if (!Double.isFinite(expected[i])) return what + ": the reference's [" + i + "] is " + expected[i];
                scale = Math.max(scale, Math.abs(expected[i]));
            }
            for (int i = 0; i < got.length; i++) {
                if (!(Math.abs(got[i] - expected[i]) <= rtol * scale)) {
                    return what + " [" + i + "] is " + got[i] + ", the reference's " + expected[i] + " (scale " + scale + ")";
                }
            }
            return null;
        }
    }
}
