package dev.tessera.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.TesseraException;
import dev.tessera.runtime.cpu.Elements;

/**
 * The CUDA emulator itself, on the kernels of {@code native/emulation/selftest.cu}: warp shuffles, a block reduction
 * over several warps and blocks, the tensor-core fragment layouts (ldmatrix, ldmatrix.trans, mma.m16n8k16) against
 * a plain product, the 16-bit conversions against Java's, saturating float → integer stores, and the misuses it must
 * stop with a message (a barrier in divergent code, a deadlock, a shuffle naming an exited lane).
 */
class KernelEmulatorTest {
    private static KernelEmulator emulator;

    @BeforeAll
    static void find() {
        String[] why = new String[1];
        emulator = KernelEmulator.find(why);
        Assumptions.assumeTrue(emulator != null, () -> "the CUDA emulator is not available: " + why[0]);
    }

    /** Launches a selftest kernel; each argument is a long (pointer or long long) or an int. */
    private static void launch(String kernel, int blocks, int threads, Object... args) {
        ByteBuffer params = ByteBuffer.allocateDirect(8 * Math.max(args.length, 1)).order(ByteOrder.nativeOrder());
        int[] offsets = new int[args.length];
        for (int i = 0; i < args.length; i++) {
            offsets[i] = 8 * i;
            if (args[i] instanceof Long v) params.putLong(8 * i, v);
            else params.putInt(8 * i, (Integer) args[i]);
        }
        emulator.launch("selftest", kernel, new int[] {blocks, 1, 1}, new int[] {threads, 1, 1}, 0, params, offsets, args.length);
    }

    private static long at(MemorySegment s) { return s.address(); }

    @Test
    void shufflesReadTheRightLanes() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(4L * 4 * 64);
            launch("emu_shuffles", 1, 64, at(out));
            for (int t = 0; t < 64; t++) {
                int lane = t & 31, warp = t - lane;
                assertEquals(warp + (lane ^ 5), out.getAtIndex(ValueLayout.JAVA_INT, 4 * t), "xor " + t);
                assertEquals(lane >= 3 ? t - 3 : t, out.getAtIndex(ValueLayout.JAVA_INT, 4 * t + 1), "up " + t);
                assertEquals(lane < 29 ? t + 3 : t, out.getAtIndex(ValueLayout.JAVA_INT, 4 * t + 2), "down " + t);
                assertEquals(warp + (lane & 16) + 7, out.getAtIndex(ValueLayout.JAVA_INT, 4 * t + 3), "width-16 broadcast " + t);
            }
        }
    }

    @Test
    void blockSumsOverSeveralWarpsAndBlocks() {
        int blocks = 37, n = 1000;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate(8L * blocks * n), out = a.allocate(8L * blocks);
            double[] expected = new double[blocks];
            java.util.Random r = new java.util.Random(3);
            for (int i = 0; i < blocks * n; i++) {
                double v = r.nextInt(1000) - 500; // integers: every summation order gives the same double
                x.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v);
                expected[i / n] += v;
            }
            launch("emu_block_sum", blocks, 96, at(x), at(out), n);
            for (int b = 0; b < blocks; b++) assertEquals(expected[b], out.getAtIndex(ValueLayout.JAVA_DOUBLE, b), "block " + b);
        }
    }

    @Test
    void tensorCoreFragmentsMultiplyLikeAPlainProduct() {
        Generator gen = new Generator(8);
        float[] av, bv;
        try (Tensor ta = Tensor.randn(gen, 16 * 16); Tensor tb = Tensor.randn(gen, 16 * 8)) {
            av = ta.toFloatArray();
            bv = tb.toFloatArray();
        }
        short[] abf = new short[256], bbf = new short[128], btbf = new short[128];
        float[] ar = new float[256], br = new float[128];
        for (int i = 0; i < 256; i++) { abf[i] = Elements.floatToBf16(av[i]); ar[i] = Elements.bf16ToFloat(abf[i]); }
        for (int i = 0; i < 128; i++) { bbf[i] = Elements.floatToBf16(bv[i]); br[i] = Elements.bf16ToFloat(bbf[i]); }
        for (int k = 0; k < 16; k++) for (int n = 0; n < 8; n++) btbf[n * 16 + k] = bbf[k * 8 + n];
        for (int transB = 0; transB < 2; transB++) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ma = a.allocateFrom(ValueLayout.JAVA_SHORT, abf), mb = a.allocateFrom(ValueLayout.JAVA_SHORT, transB == 1 ? btbf : bbf);
                MemorySegment md = a.allocate(4L * 128);
                launch("emu_mma", 1, 32, at(ma), at(mb), at(md), transB);
                for (int m = 0; m < 16; m++) {
                    for (int n = 0; n < 8; n++) {
                        double s = 0;
                        for (int k = 0; k < 16; k++) s += (double) ar[m * 16 + k] * br[k * 8 + n];
                        assertEquals(s, md.getAtIndex(ValueLayout.JAVA_FLOAT, m * 8 + n), 1e-5, "d[" + m + "][" + n + "] transB=" + transB);
                    }
                }
            }
        }
    }

    @Test
    void sixteenBitConversionsMatchJava() {
        float[] special = {0f, -0f, 1f, -1f, 65504f, 65519.99f, 65520f, 1e-8f, 2.98e-8f, 5.96e-8f, 6.1e-5f, 6.09e-5f, 1e-40f,
            Float.MIN_VALUE, Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, 1.00048828125f, 1.0009765625f,
            3.3895314e38f, -2.5f};
        java.util.Random r = new java.util.Random(11);
        int n = special.length + 20000;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate(4L * n), half = a.allocate(2L * n), bf = a.allocate(2L * n), back = a.allocate(4L * n);
            float[] xs = new float[n];
            for (int i = 0; i < n; i++) {
                // random bit patterns cover every exponent, subnormals and NaNs included
                xs[i] = i < special.length ? special[i] : Float.intBitsToFloat(r.nextInt());
                x.setAtIndex(ValueLayout.JAVA_FLOAT, i, xs[i]);
            }
            launch("emu_conversions", 8, 128, at(x), at(half), at(bf), at(back), n);
            for (int i = 0; i < n; i++) {
                short h = half.getAtIndex(ValueLayout.JAVA_SHORT, i);
                if (Float.isNaN(xs[i])) {
                    assertTrue(Float.isNaN(Float.float16ToFloat(h)), "half of NaN");
                    assertTrue(Float.isNaN(Elements.bf16ToFloat(bf.getAtIndex(ValueLayout.JAVA_SHORT, i))), "bf16 of NaN");
                    continue;
                }
                assertEquals(Float.floatToFloat16(xs[i]), h, "half of " + xs[i]);
                assertEquals(Elements.floatToBf16(xs[i]), bf.getAtIndex(ValueLayout.JAVA_SHORT, i), "bf16 of " + xs[i]);
                assertEquals(Float.float16ToFloat(h), back.getAtIndex(ValueLayout.JAVA_FLOAT, i), "back from half " + h);
            }
        }
    }

    @Test
    void floatToIntegerStoresSaturateLikeTheGpu() {
        float[] xs = {1.9f, -1.9f, 3e9f, -3e9f, 1e19f, -1e19f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocateFrom(ValueLayout.JAVA_FLOAT, xs), i32 = a.allocate(4L * xs.length), i64 = a.allocate(8L * xs.length);
            launch("emu_truncation", 1, 32, at(x), at(i32), at(i64), xs.length);
            for (int i = 0; i < xs.length; i++) {
                assertEquals((int) xs[i], i32.getAtIndex(ValueLayout.JAVA_INT, i), "(int) " + xs[i]); // Java's casts saturate too
                assertEquals((long) xs[i], i64.getAtIndex(ValueLayout.JAVA_LONG, i), "(long) " + xs[i]);
            }
        }
    }

    @Test
    void aRaceWithoutABarrierShowsAsBlocksThatDisagree() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(4L * 2 * 64);
            launch("emu_race", 2, 64, at(out));
            int differ = 0;
            for (int t = 0; t < 64; t++) {
                if (out.getAtIndex(ValueLayout.JAVA_INT, t) != out.getAtIndex(ValueLayout.JAVA_INT, 64 + t)) differ++;
            }
            assertTrue(differ >= 62, "threads run in opposite orders in the two blocks, so the racing reads differ: " + differ + " of 64");
        }
    }

    @Test
    void anUnbuiltOrUnconfiguredEmulatorSaysWhy(@org.junit.jupiter.api.io.TempDir java.nio.file.Path empty) {
        String saved = System.getProperty(KernelEmulator.FOLDER_PROPERTY);
        try {
            String[] why = new String[1];
            System.setProperty(KernelEmulator.FOLDER_PROPERTY, empty.toString());
            assertEquals(null, KernelEmulator.find(why));
            assertTrue(why[0].contains("not built in " + empty) && why[0].contains("g++"), why[0]);
            System.clearProperty(KernelEmulator.FOLDER_PROPERTY);
            assertEquals(null, KernelEmulator.find(why));
            assertTrue(why[0].contains("not configured (-D" + KernelEmulator.FOLDER_PROPERTY), why[0]);
        } finally {
            System.setProperty(KernelEmulator.FOLDER_PROPERTY, saved);
        }
    }

    private static String failure(String kernel, int threads) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(4L * threads);
            return assertThrows(TesseraException.class, () -> launch(kernel, 1, threads, at(out))).getMessage();
        }
    }

    @Test
    void misalignedAccessesStopTheLaunchAsOnAGpu() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocate(256, 256), out = a.allocate(4 * 32 + 64, 256);
            for (int kind = 0; kind < 3; kind++) {
                launch("emu_misaligned", 1, 32, at(in), at(out), 0, kind); // aligned: runs
                int k = kind, offset = kind == 1 ? 2 : 8;
                String m = assertThrows(TesseraException.class, () -> launch("emu_misaligned", 1, 32, at(in), at(out), offset, k)).getMessage();
                String expected = switch (kind) {
                    case 0 -> "uint4' at selftest.cu:";
                    case 1 -> "store 'float' at selftest.cu:";
                    default -> "ldmatrix (row address)";
                };
                assertTrue(m.contains("emu_misaligned") && m.contains(expected) && m.contains("-byte aligned")
                        && m.contains("CUDA_ERROR_MISALIGNED_ADDRESS"), m);
            }
        }
    }

    @Test
    void anIndexPastASharedArrayStopsTheLaunch() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(4 * 64, 256);
            launch("emu_out_of_bounds", 1, 64, at(out), 0);
            for (int t = 0; t < 64; t++) assertEquals(t, out.getAtIndex(ValueLayout.JAVA_INT, t));
            String m = assertThrows(TesseraException.class, () -> launch("emu_out_of_bounds", 1, 64, at(out), 1)).getMessage();
            assertTrue(m.contains("emu_out_of_bounds") && m.contains("index 64 is outside") && m.contains("int [64]") && m.contains("selftest.cu:"), m);
        }
    }

    @Test
    void misusesStopTheLaunchWithAMessage() {
        String divergent = failure("emu_divergent_barrier", 32);
        assertTrue(divergent.contains("emu_divergent_barrier") && divergent.contains("a barrier in divergent code") && divergent.contains("selftest.cu:"),
                divergent);
        String deadlock = failure("emu_deadlock", 32);
        assertTrue(deadlock.contains("deadlock in block (0,0,0)") && deadlock.contains("at __syncthreads"), deadlock);
        String exited = failure("emu_exited_lane", 32);
        assertTrue(exited.contains("exited while lanes of its warp wait for it in __shfl_xor_sync"), exited);
        // the emulator keeps working after a failed launch
        shufflesReadTheRightLanes();
        IllegalStateException missing = assertThrows(IllegalStateException.class,
                () -> emulator.launch("no_such_module", "k", new int[] {1, 1, 1}, new int[] {1, 1, 1}, 0, ByteBuffer.allocateDirect(8), new int[0], 0));
        assertTrue(missing.getMessage().contains("no library for module 'no_such_module'"), missing.getMessage());
    }
}
