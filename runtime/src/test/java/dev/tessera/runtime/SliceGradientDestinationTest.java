package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.spi.KernelSupport;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A backward may write an input's gradient straight into that input's part of the gradient being assembled for the
 * tensor it was sliced from (a projection split into parts). What must hold: the gradients are exactly those of the
 * copying path in every arrangement of slices, reshapes and consumers, and where it applies the copies are gone.
 */
class SliceGradientDestinationTest {
    private Scope scope;

    @BeforeEach
    void open() { scope = Scope.open(); }

    @AfterEach
    void close() {
        Autograd.lendDestinations = true;
        Profiler.disable();
        Profiler.reset();
        scope.close();
    }

    /** The leaves' gradients of {@code loss(leaves)}, with destinations lent or not. */
    private static List<float[]> gradients(boolean lend, List<Tensor> leaves, Function<List<Tensor>, Tensor> loss) {
        Autograd.lendDestinations = lend;
        for (Tensor t : leaves) t.zeroGrad();
        loss.apply(leaves).backward();
        List<float[]> out = new ArrayList<>();
        for (Tensor t : leaves) out.add(t.grad().toFloatArray());
        return out;
    }

    private static void assertSameGradients(List<Tensor> leaves, Function<List<Tensor>, Tensor> loss) {
        List<float[]> copied = gradients(false, leaves, loss), inPlace = gradients(true, leaves, loss);
        for (int i = 0; i < leaves.size(); i++) assertArrayEquals(copied.get(i), inPlace.get(i), "leaf " + i);
    }

    /** The same check in F64, bit for bit. */
    private static void assertSameGradients64(List<Tensor> leaves, Function<List<Tensor>, Tensor> loss) {
        List<double[]> runs = new ArrayList<>();
        for (boolean lend : new boolean[] {false, true}) {
            Autograd.lendDestinations = lend;
            for (Tensor t : leaves) t.zeroGrad();
            loss.apply(leaves).backward();
            double[] all = leaves.stream().flatMapToDouble(t -> java.util.Arrays.stream(t.grad().toDoubleArray())).toArray();
            runs.add(all);
        }
        assertArrayEquals(runs.get(0), runs.get(1));
    }

    private static long backwardCopies(boolean lend, List<Tensor> leaves, Function<List<Tensor>, Tensor> loss) {
        Autograd.lendDestinations = lend;
        for (Tensor t : leaves) t.zeroGrad();
        Tensor l = loss.apply(leaves);
        Profiler.reset();
        Profiler.enable();
        l.backward();
        Profiler.disable();
        Profiler.OpStats copies = Profiler.snapshot().get("copy");
        return copies == null ? 0 : copies.calls();
    }

    /**
     * Mamba-2's split: one projection cut into a gate (SiLU), a convolution's input and a part seen through a reshape
     * (SiLU again): all three parts are written in place, and the gradients are those of the copying path.
     */
    @Test
    void aSplitProjectionsPartsAreWrittenWhereTheyLie() { splitProjection(DType.F32); }

    /** The same in F64: the convolution's and SiLU's scalar kernels write the strided parts. */
    @Test
    void aSplitProjectionsPartsAreWrittenWhereTheyLieInF64() { splitProjection(DType.F64); }

    /**
     * The same on cuda:0 (a GPU or the CUDA emulator): the convolution reads its part of the projection in place, and
     * it and SiLU's fused gradient write theirs where they lie; loss and gradients are the CPU's.
     */
    @Test
    @org.junit.jupiter.api.Tag("gpu")
    void onTheGpuThePartsAreWrittenWhereTheyLie() {
        dev.tessera.runtime.cuda.Gpu.assumeAvailable();
        for (DType t : new DType[] {DType.F32, DType.F64}) splitProjection(t, Device.cuda(0), 3);
    }

    private static void splitProjection(DType dtype) { splitProjection(dtype, Device.cpu(), 3); }

    /** The convolution's part has 21 channels: a whole vector of F32 lanes and a scalar tail, each written strided. */
    private static void splitProjection(DType dtype, Device device, int saved) {
        Generator gen = new Generator(11);
        Tensor x = Tensor.randn(gen, 2, 7, 4).to(dtype).to(device).requiresGrad(true);
        Tensor w = Tensor.randn(gen, 4, 28).mul(0.5).to(dtype).to(device).requiresGrad(true);
        Tensor cw = Tensor.randn(gen, 21, 3).to(dtype).to(device).requiresGrad(true);
        Tensor cb = Tensor.randn(gen, 21).to(dtype).to(device).requiresGrad(true);
        Tensor mix = Tensor.randn(gen, 2, 7, 28).to(dtype).to(device);
        Function<List<Tensor>, Tensor> loss = l -> {
            Tensor y = l.get(0).matmul(l.get(1)); // [2, 7, 28]
            Tensor gate = y.narrow(2, 0, 4).silu();
            Tensor conv = Functional.causalConv1d(y.narrow(2, 4, 21), l.get(2), l.get(3), null);
            Tensor heads = y.narrow(2, 25, 3).reshape(2, 7, 3, 1).silu().reshape(2, 7, 3);
            return Tensor.cat(List.of(gate, conv, heads), 2).mul(mix).sum();
        };
        List<Tensor> leaves = List.of(x, w, cw, cb);
        if (dtype == DType.F64) assertSameGradients64(leaves, loss);
        else assertSameGradients(leaves, loss);
        long copied = backwardCopies(false, leaves, loss), inPlace = backwardCopies(true, leaves, loss);
        assertEquals(saved, copied - inPlace, "copies saved (" + copied + " copies without destinations, " + inPlace + " with)");
        if (!device.isCpu()) { // and the device read and wrote the strided parts right: its loss and gradients are the CPU's
            List<Tensor> host = leaves.stream().map(t -> t.detach().to(Device.cpu()).requiresGrad(true)).toList();
            Function<List<Tensor>, Tensor> hostLoss = l -> {
                Tensor y = l.get(0).matmul(l.get(1));
                return Tensor.cat(List.of(y.narrow(2, 0, 4).silu(), Functional.causalConv1d(y.narrow(2, 4, 21), l.get(2), l.get(3), null),
                        y.narrow(2, 25, 3).silu()), 2).mul(mix.to(Device.cpu())).sum();
            };
            for (Tensor t : leaves) t.zeroGrad();
            Tensor l = loss.apply(leaves);
            double onDevice = l.item();
            l.backward();
            Tensor lh = hostLoss.apply(host);
            lh.backward();
            double tol = dtype == DType.F64 ? 1e-10 : 1e-4;
            assertEquals(lh.item(), onDevice, tol * Math.abs(lh.item()) + tol, "loss");
            for (int i = 0; i < leaves.size(); i++) {
                double[] want = host.get(i).grad().toDoubleArray(), got = leaves.get(i).grad().toDoubleArray();
                for (int j = 0; j < want.length; j++) assertEquals(want[j], got[j], tol * (1 + Math.abs(want[j])), "leaf " + i + " [" + j + "]");
            }
        }
    }

    /**
     * A custom op of two inputs whose backward writes each gradient (2·g for a, 3·g for b) into the destination the
     * runtime offers, or allocates its own when {@code use} is false; it records what it was offered.
     */
    private static Tensor pair(Tensor a, Tensor b, boolean use, boolean[] offered) {
        int na = (int) a.numel(), nb = (int) b.numel();
        int[] as = a.shape(), bs = b.shape();
        Tensor out;
        try (Grad.Region g = Grad.noGrad()) {
            out = Tensor.cat(List.of(a.reshape(na).mul(2), b.reshape(nb).mul(3)), 0);
        }
        return KernelSupport.record("pair", out, new Tensor[] {a, b}, new Tensor[0], (g, saved) -> {
            Tensor ga = g.narrow(0, 0, na).reshape(as).mul(2), gb = g.narrow(0, na, nb).reshape(bs).mul(3);
            Tensor da = KernelSupport.gradientDestination(0), db = KernelSupport.gradientDestination(1);
            offered[0] |= da != null;
            offered[1] |= db != null;
            if (use && da != null) {
                da.copyFrom(ga);
                ga = da;
            }
            if (use && db != null) {
                db.copyFrom(gb);
                gb = db;
            }
            return new Tensor[] {ga, gb};
        });
    }

    private static Tensor weighted(Tensor out, int seed) { return out.mul(Tensor.randn(new Generator(seed), out.shape())).sum(); }

    @Test
    void twoPartsOfOneTensorInOneBackward() {
        Tensor p = Tensor.randn(new Generator(1), 4, 5).requiresGrad(true);
        boolean[] offered = new boolean[2];
        Function<List<Tensor>, Tensor> loss = l -> {
            Tensor y = l.get(0).mul(1.5);
            return weighted(pair(y.narrow(1, 0, 2), y.narrow(1, 2, 3), true, offered), 3);
        };
        assertSameGradients(List.of(p), loss);
        assertTrue(offered[0] && offered[1], "both parts offered");
        // by hand: d/dp of Σ m·(2·1.5·p[:, :2], 3·1.5·p[:, 2:]) flattened
        float[] m = Tensor.randn(new Generator(3), 20).toFloatArray(), got = p.grad().toFloatArray();
        for (int r = 0; r < 4; r++) {
            for (int c = 0; c < 5; c++) {
                float expect = c < 2 ? 3f * m[r * 2 + c] : 4.5f * m[8 + r * 3 + (c - 2)];
                assertEquals(expect, got[r * 5 + c], 1e-5, "p[" + r + "][" + c + "]");
            }
        }
    }

    @Test
    void aPartAndTheWholeTensorInOneBackward() {
        Tensor p = Tensor.randn(new Generator(2), 3, 4).requiresGrad(true);
        boolean[] offered = new boolean[2];
        assertSameGradients(List.of(p), l -> {
            Tensor y = l.get(0).mul(l.get(0));
            return weighted(pair(y.narrow(1, 1, 2), y, true, offered), 5);
        });
        assertTrue(offered[0], "the part is offered");
        assertTrue(!offered[1], "the whole tensor is not a slice: nothing offered");
    }

    @Test
    void aPartSeenThroughAReshapeAndAPartSeenDirectly() {
        Tensor p = Tensor.randn(new Generator(3), 2, 3, 6).requiresGrad(true);
        boolean[] offered = new boolean[2];
        assertSameGradients(List.of(p), l -> {
            Tensor y = l.get(0).exp();
            Tensor heads = y.narrow(2, 0, 4).reshape(2, 3, 2, 2);
            Tensor rest = y.narrow(2, 4, 2);
            return weighted(pair(heads, rest, true, offered), 7);
        });
        assertTrue(offered[0] && offered[1], "both offered");
    }

    @Test
    void partsCutAlongAnotherDimensionToo() {
        Tensor p = Tensor.randn(new Generator(9), 2, 3, 6).requiresGrad(true);
        boolean[] offered = new boolean[2];
        assertSameGradients(List.of(p), l -> {
            Tensor y = l.get(0).exp();
            return weighted(pair(y.narrow(2, 0, 4), y.narrow(2, 4, 2), true, offered), 29).add(y.narrow(1, 0, 1).mul(y.narrow(1, 2, 1)).sum());
        });
    }

    @Test
    void aPartWithASecondConsumerIsNotOffered() {
        Tensor p = Tensor.randn(new Generator(4), 3, 5).requiresGrad(true);
        boolean[] offered = new boolean[2];
        assertSameGradients(List.of(p), l -> {
            Tensor y = l.get(0).tanh();
            Tensor a = y.narrow(1, 0, 2);
            return weighted(pair(a, y.narrow(1, 2, 3), true, offered), 9).add(a.mul(5).sum());
        });
        assertTrue(!offered[0] && offered[1], "only the part used once is offered");
    }

    @Test
    void overlappingPartsAreOfferedOnceAndAdded() {
        Tensor p = Tensor.randn(new Generator(5), 3, 5).requiresGrad(true);
        boolean[] offered = new boolean[2];
        assertSameGradients(List.of(p), l -> {
            Tensor y = l.get(0).sigmoid();
            return weighted(pair(y.narrow(1, 0, 3), y.narrow(1, 2, 3), true, offered), 13);
        });
        assertTrue(offered[0] ^ offered[1], "the second of two overlapping parts is not offered");
    }

    @Test
    void anOfferLeftUnusedChangesNothing() {
        Tensor p = Tensor.randn(new Generator(6), 4, 6).requiresGrad(true);
        boolean[] offered = new boolean[2];
        assertSameGradients(List.of(p), l -> {
            Tensor y = l.get(0).mul(2);
            return weighted(pair(y.narrow(1, 0, 3), y.narrow(1, 4, 2), false, offered), 17); // a gap at column 3
        });
        assertTrue(offered[0] && offered[1]);
        float[] g = p.grad().toFloatArray();
        for (int r = 0; r < 4; r++) assertEquals(0f, g[r * 6 + 3], "the gap's gradient is zero");
    }

    @Test
    void aRetainedGraphGivesTheSameGradientsTwice() {
        Tensor p = Tensor.randn(new Generator(7), 3, 4).requiresGrad(true);
        boolean[] offered = new boolean[2];
        Tensor y = p.mul(p);
        Tensor loss = weighted(pair(y.narrow(0, 0, 1), y.narrow(0, 1, 2).reshape(8), true, offered), 19);
        loss.backward(null, true);
        float[] once = p.grad().toFloatArray();
        p.zeroGrad();
        loss.backward();
        assertArrayEquals(once, p.grad().toFloatArray());
        assertTrue(offered[0] && offered[1]);
    }

    @Test
    void slicesOfALeafAreNotOffered() {
        Tensor p = Tensor.randn(new Generator(8), 2, 4).requiresGrad(true);
        boolean[] offered = new boolean[2];
        weighted(pair(p.narrow(1, 0, 2), p.narrow(1, 2, 2), true, offered), 23).backward();
        assertTrue(!offered[0] && !offered[1], "a leaf's gradient is accumulated, not assembled");
        assertNotNull(p.grad());
    }

    @Test
    void noDestinationOutsideABackward() { assertNull(KernelSupport.gradientDestination(0)); }

    @Test
    void rowStrideDescribesSlicesOfTheLastDimension() {
        Tensor t = Tensor.zeros(2, 3, 10);
        assertEquals(10, KernelSupport.rowStride(t.narrow(2, 4, 6), 2));
        assertEquals(10, KernelSupport.rowStride(t.narrow(2, 4, 6).reshape(2, 3, 3, 2), 2));
        assertEquals(10, KernelSupport.rowStride(t, 2));
        assertEquals(30, KernelSupport.rowStride(t, 1));
        assertEquals(-1, KernelSupport.rowStride(t.narrow(2, 4, 6).reshape(2, 3, 3, 2), 3), "rows of a row are not evenly spaced here");
        assertEquals(-1, KernelSupport.rowStride(t.narrow(1, 0, 2), 2), "a position slice leaves rows unevenly spaced");
        assertEquals(-1, KernelSupport.rowStride(t.permute(1, 0, 2), 2));
        assertEquals(-1, KernelSupport.rowStride(t.slice(2, 0, 10, 2), 2), "a stepped slice is not contiguous in a row");
    }
}
