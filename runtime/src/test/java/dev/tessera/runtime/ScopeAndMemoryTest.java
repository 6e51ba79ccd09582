package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Deterministic release: scopes, keep(), views keeping storage alive, saved tensors freed by backward,
 * and a long training loop whose native memory stays flat. Live bytes are read from {@link MemoryStats}.
 */
class ScopeAndMemoryTest {

    /**
     * Other test classes in this JVM may leave unreachable tensors that only the Cleaner frees, which would
     * make live bytes drift down while we measure. Collect them first, until the count stops moving.
     */
    static void settleMemory() {
        long prev = -1;
        int stable = 0;
        for (int i = 0; i < 40 && stable < 3; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            long now = MemoryStats.cpuLiveBytes();
            stable = now == prev ? stable + 1 : 0;
            prev = now;
        }
    }

    @BeforeEach
    void settle() { settleMemory(); }

    /** The test suites run with uninitialised memory poisoned, so that an op leaving part of its output unwritten fails. */
    @Test
    void testSuitesPoisonUninitialisedMemory() {
        assertTrue(Storage.POISON, "surefire's argLine sets -Dtessera.poisonUninitialized=true (see the parent pom)");
        try (Scope s = Scope.open()) {
            float[] f = Tensor.allocate(DType.F32, new int[] {5}, Device.cpu()).toFloatArray();
            for (float v : f) assertTrue(Float.isNaN(v));
            assertArrayEquals(new long[] {-1, -1}, Tensor.allocate(DType.I64, new int[] {2}, Device.cpu()).toLongArray());
            assertArrayEquals(new float[5], Tensor.zeros(5).toFloatArray());
        }
    }

    @Test
    void tensorsMadeInAScopeAreReleasedAtClose() {
        long base = MemoryStats.cpuLiveBytes();
        Tensor a, b, c, v;
        try (Scope s = Scope.open()) {
            a = Tensor.ones(64, 64);
            b = a.mul(3).add(1);
            c = Tensor.zeros(DType.I64, 100);
            v = b.transpose(0, 1); // a view
            assertEquals(5, s.ownedTensors()); // a, a*3, a*3+1, c, v
            assertTrue(MemoryStats.cpuLiveBytes() >= base + 2 * 64 * 64 * 4 + 800);
            assertFalse(a.isReleased());
        }
        assertTrue(a.isReleased());
        assertTrue(b.isReleased());
        assertTrue(c.isReleased());
        assertTrue(v.isReleased());
        assertEquals(base, MemoryStats.cpuLiveBytes(), "live bytes must return to the baseline when the scope closes");
    }

    @Test
    void keepMovesATensorToTheParentScope() {
        long base = MemoryStats.cpuLiveBytes();
        Tensor kept, dropped;
        try (Scope outer = Scope.open()) {
            try (Scope inner = Scope.open()) {
                kept = Tensor.full(2, DType.F32, 10);
                assertSame(inner, kept.owner);
                inner.keep(kept);
                assertSame(outer, kept.owner);
                dropped = Tensor.full(3, DType.F32, 10);
            }
            assertFalse(kept.isReleased());
            assertTrue(dropped.isReleased());
            assertSame(outer, kept.owner);
            assertEquals(1, outer.ownedTensors());
            assertEquals(20.0, kept.sum().item(), 0);
        }
        assertTrue(kept.isReleased(), "the parent scope releases what the inner scope kept");
        assertEquals(base, MemoryStats.cpuLiveBytes());
    }

    @Test
    void keepInTheOutermostScopeMovesTheTensorToNoScope() {
        long base = MemoryStats.cpuLiveBytes();
        Tensor kept;
        try (Scope s = Scope.open()) {
            kept = s.keep(Tensor.ones(5, 5).mul(2));
        }
        assertNull(kept.owner);
        assertFalse(kept.isReleased());
        try (Scope s = Scope.open()) {
            assertEquals(50.0, kept.sum().item(), 0);
        }
        assertEquals(base + 5 * 5 * 4, MemoryStats.cpuLiveBytes(), "only the kept tensor is live");
        kept.close();
        assertTrue(kept.isReleased());
        assertEquals(base, MemoryStats.cpuLiveBytes());
    }

    @Test
    void aViewKeptOutOfAScopeKeepsItsStorageAlive() {
        long base = MemoryStats.cpuLiveBytes();
        Tensor view;
        Tensor baseTensor;
        try (Scope outer = Scope.open()) {
            try (Scope inner = Scope.open()) {
                baseTensor = Tensor.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4);
                view = inner.keep(baseTensor.transpose(0, 1).narrow(1, 1, 2)); // [4, 2] of columns 1..2
            }
            assertTrue(baseTensor.isReleased());
            assertFalse(view.isReleased());
            assertTrue(MemoryStats.cpuLiveBytes() >= base + 48, "the storage survives while the view holds it");
            assertArrayEquals(new float[] {4, 8, 5, 9, 6, 10, 7, 11}, view.toFloatArray());
            assertEquals(9.0, view.get(1, 1), 0);
            assertThrows(IllegalStateException.class, () -> baseTensor.get(0, 0));
        }
        assertTrue(view.isReleased());
        assertEquals(base, MemoryStats.cpuLiveBytes(), "the storage is freed with its last view");
    }

    @Test
    void nestedScopesMustCloseInOrder() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        Tensor a;
        Tensor b;
        try {
            b = Tensor.ones(3);
            IllegalStateException e = assertThrows(IllegalStateException.class, outer::close);
            assertTrue(e.getMessage().contains("reverse order"), e.getMessage());
            assertFalse(b.isReleased(), "a failed close releases nothing");
        } finally {
            inner.close();
            outer.close();
        }
        assertTrue(b.isReleased());
        // The thread's scope stack is intact: a fresh tensor belongs to no scope.
        a = Tensor.zeros(1);
        assertNull(a.owner);
        a.close();
    }

    @Test
    void aScopeMustBeClosedOnItsOwnThread() throws Exception {
        Scope s = Scope.open();
        try {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    s.close();
                } catch (Throwable e) {
                    thrown.set(e);
                }
            });
            t.start();
            t.join();
            assertTrue(thrown.get() instanceof IllegalStateException, String.valueOf(thrown.get()));
        } finally {
            s.close();
        }
    }

    @Test
    void usingAReleasedTensorThrows() {
        Tensor t;
        try (Scope s = Scope.open()) {
            t = Tensor.ones(2, 2);
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.add(1));
        assertTrue(e.getMessage().contains("released"), e.getMessage());
        assertThrows(IllegalStateException.class, t::item);
        assertThrows(IllegalStateException.class, t::toFloatArray);
        assertThrows(IllegalStateException.class, () -> t.reshape(4));
        assertThrows(IllegalStateException.class, () -> t.matmul(t));
        assertThrows(IllegalStateException.class, () -> t.fill(1));
        assertTrue(t.toString().contains("released"));
        t.close(); // idempotent
        Tensor u = Tensor.ones(2);
        u.close();
        u.close();
        assertThrows(IllegalStateException.class, u::sum);
    }

    @Test
    void savedTensorsAreFreedAfterBackward() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(3), 1000).requiresGrad(true);
            Tensor y = x.unsqueeze(0).expand(8, 1000).exp(); // saves its input (a view of x) and its output
            Tensor loss = y.sum();
            long yBytes = 8 * 1000 * 4;
            y.close(); // the tensor object goes; its storage stays, held by exp's saved output
            long before = MemoryStats.cpuLiveBytes();
            loss.backward();
            long after = MemoryStats.cpuLiveBytes();
            long gradBytes = 1000 * 4;
            assertEquals(before - yBytes + gradBytes, after,
                    "backward frees exp's saved output (" + yBytes + " bytes) and allocates only x.grad (" + gradBytes + ")");
            assertNotNull(x.grad());
        }
    }

    @Test
    void secondBackwardWithoutRetainGraphThrowsAndWithRetainGraphAccumulates() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.of(new float[] {1, 2, 3}, 3).requiresGrad(true);
            Tensor loss = x.mul(x).sum();
            loss.backward();
            assertArrayEquals(new float[] {2, 4, 6}, x.grad().toFloatArray());
            IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
            assertTrue(e.getMessage().contains("retainGraph") && e.getMessage().contains("again"), e.getMessage());
            assertArrayEquals(new float[] {2, 4, 6}, x.grad().toFloatArray(), "a failed backward accumulates nothing");

            Tensor z = Tensor.of(new float[] {1, 2, 3}, 3).requiresGrad(true);
            Tensor l2 = z.mul(z).sum();
            l2.backward(null, true);
            l2.backward(null, true);
            assertArrayEquals(new float[] {4, 8, 12}, z.grad().toFloatArray());
            l2.backward(); // the last walk may free the graph
            assertArrayEquals(new float[] {6, 12, 18}, z.grad().toFloatArray());
            assertThrows(IllegalStateException.class, l2::backward);
        }
    }

    @Test
    void closingTheScopeFreesTheGraphUnlessAKeptTensorNeedsIt() {
        long base = MemoryStats.cpuLiveBytes();
        Tensor x = Tensor.ones(100).requiresGrad(true);
        try (Scope s = Scope.open()) {
            x.exp().sum(); // nothing kept: exp's saved output goes with the scope
        }
        assertEquals(base + 400, MemoryStats.cpuLiveBytes());
        Tensor loss;
        try (Scope s = Scope.open()) {
            loss = s.keep(x.exp().sum());
        }
        // the kept loss carries its graph: exp's saved output (400 bytes) is still held
        assertEquals(base + 400 + 4 + 400, MemoryStats.cpuLiveBytes());
        loss.backward();
        float[] g = x.grad().toFloatArray();
        for (float v : g) assertEquals((float) Math.E, v, 1e-6f);
        // backward dropped the saved output; x's gradient (400 bytes) is new
        assertEquals(base + 400 + 4 + 400, MemoryStats.cpuLiveBytes());
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("sum") || e.getMessage().contains("exp"), e.getMessage());
        loss.close();
        x.close();
        assertEquals(base, MemoryStats.cpuLiveBytes());
    }

    @Test
    void trainingLoopMemoryStaysFlat() {
        Generator gen = new Generator(42);
        try (Scope root = Scope.open()) {
            Tensor w1 = Tensor.randn(gen, 16, 32).mul(0.25).requiresGrad(true);
            Tensor b1 = Tensor.zeros(32).requiresGrad(true);
            Tensor w2 = Tensor.randn(gen, 32, 4).mul(0.18).requiresGrad(true);
            Tensor b2 = Tensor.zeros(4).requiresGrad(true);
            Tensor[] params = {w1, b1, w2, b2};
            Tensor x = Tensor.randn(gen, 8, 16);
            Tensor y = Tensor.randint(gen, 0, 4, 8);
            double lr = 0.05;
            double firstLoss = Double.NaN, lastLoss = Double.NaN;
            long liveAt100 = -1;
            long peakAt100 = -1;
            for (int it = 1; it <= 10_000; it++) {
                try (Scope s = Scope.open()) {
                    Tensor h = x.matmul(w1).add(b1).tanh();
                    Tensor logits = h.matmul(w2).add(b2);
                    Tensor loss = Functional.crossEntropy(logits, y);
                    loss.backward();
                    try (Grad.Region g = Grad.noGrad()) {
                        for (Tensor p : params) {
                            p.addInPlace(p.grad().mul(-lr));
                            p.zeroGrad();
                        }
                    }
                    if (it == 1) firstLoss = loss.item();
                    if (it == 10_000) lastLoss = loss.item();
                }
                if (it == 100) {
                    liveAt100 = MemoryStats.cpuLiveBytes();
                    peakAt100 = MemoryStats.cpuPeakBytes();
                }
            }
            long liveAt10000 = MemoryStats.cpuLiveBytes();
            assertEquals(liveAt100, liveAt10000, "native memory must stay flat across 9,900 training steps");
            assertTrue(MemoryStats.cpuPeakBytes() <= peakAt100 + 64 * 1024,
                    "peak grew from " + peakAt100 + " to " + MemoryStats.cpuPeakBytes());
            assertTrue(lastLoss < firstLoss * 0.5, "loss should fall: " + firstLoss + " -> " + lastLoss);
            for (Tensor p : params) assertNull(p.grad());
        }
    }

    @Test
    void scopesOpenedAfterOthersCloseOwnOnlyTheirOwnTensors() {
        // a thread's scopes reuse the lists of the ones it closed: nothing of a closed scope may carry over
        Scope first = Scope.open();
        Tensor a = Tensor.zeros(4), b = Tensor.ones(4);
        Tensor kept;
        try (Scope inner = Scope.open()) {
            kept = inner.keep(Tensor.full(2.0, DType.F32, 3));
            Tensor.zeros(2);
        }
        assertEquals(3, first.ownedTensors(), "a, b and the tensor kept from the inner scope");
        first.close();
        assertTrue(a.isReleased() && b.isReleased() && kept.isReleased());
        try (Scope second = Scope.open(); Scope third = Scope.open()) {
            assertEquals(0, second.ownedTensors());
            assertEquals(0, third.ownedTensors());
            Tensor c = Tensor.zeros(5);
            assertEquals(1, third.ownedTensors());
            assertEquals(0, second.ownedTensors());
            assertEquals(0, first.ownedTensors(), "a closed scope owns nothing, whoever reuses its list");
            assertFalse(c.isReleased());
        }
    }

    private static void assertNotNull(Object o) { org.junit.jupiter.api.Assertions.assertNotNull(o); }
}
