package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.MemoryStats;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Module#loadStateDict(TensorSource, boolean)}: the same parameters as a whole-map load, one tensor in memory at a time. */
class StreamingLoadTest {
    @TempDir
    Path dir;

    private static Isotropic stack(long seed) {
        Generator gen = new Generator(seed);
        Isotropic s = new Isotropic("m1T2", new Isotropic.Config(64, 128, 4, 8, -1, 16, 4, 2, 16, 1), gen);
        s.initWeights(gen, s.height());
        return s;
    }

    /** Records, at each load, the native bytes alive beyond {@code baseline}. */
    private static final class Watched implements TensorSource {
        final TensorSource inner;
        final long baseline;
        final List<Long> extraAtLoad = new ArrayList<>();

        Watched(TensorSource inner, long baseline) {
            this.inner = inner;
            this.baseline = baseline;
        }

        @Override public Map<String, int[]> shapes() { return inner.shapes(); }

        @Override public Tensor load(String name) {
            Tensor t = inner.load(name);
            extraAtLoad.add(MemoryStats.cpuLiveBytes() - baseline);
            return t;
        }

        @Override public void close() { inner.close(); }
    }

    @Test
    void loadsWhatTheMapLoadsHoldingOneTensorAtATime() {
        Path file = dir.resolve("stack.safetensors");
        long largest = 0, total = 0;
        try (Isotropic trained = stack(11); Scope s = Scope.open()) {
            SafeTensors.write(file, trained.stateDict(), Map.of());
            for (Tensor t : trained.stateDict().values()) {
                largest = Math.max(largest, t.numel() * 4);
                total += t.numel() * 4;
            }
        }
        assertTrue(total > 4 * largest, "the stack has many tensors of similar size: " + total + " bytes, largest " + largest);
        try (Isotropic viaMap = stack(1); Isotropic streamed = stack(2); Scope s = Scope.open()) {
            viaMap.loadStateDict(SafeTensors.read(file), true);
            long baseline = MemoryStats.cpuLiveBytes();
            try (Watched source = new Watched(SafeTensors.open(file), baseline)) {
                streamed.loadStateDict(source, true);
                assertEquals(streamed.namedParameters().size(), source.extraAtLoad.size(), "each parameter read once");
                for (long extra : source.extraAtLoad) {
                    assertTrue(extra <= largest + 4096, "at most the tensor being copied is held beside the model: " + source.extraAtLoad);
                }
            }
            for (var e : viaMap.namedParameters().entrySet()) {
                assertArrayEquals(e.getValue().value().toFloatArray(), streamed.namedParameters().get(e.getKey()).value().toFloatArray(), e.getKey());
            }
        }
    }

    @Test
    void mismatchesAreRefusedBeforeAnythingIsRead() {
        Path file = dir.resolve("other.safetensors");
        try (Isotropic wider = new Isotropic("m1T2", new Isotropic.Config(32, 64, 4, 8, -1, 16, 4, 2, 16, 1), new Generator(3));
             Scope s = Scope.open()) {
            SafeTensors.write(file, wider.stateDict(), Map.of());
        }
        try (Isotropic model = stack(5); Watched source = new Watched(SafeTensors.open(file), 0)) {
            float[] before = model.namedParameters().values().iterator().next().value().toFloatArray();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.loadStateDict(source, true));
            assertTrue(e.getMessage().contains("has shape"), e.getMessage());
            assertEquals(0, source.extraAtLoad.size(), "no tensor read");
            assertArrayEquals(before, model.namedParameters().values().iterator().next().value().toFloatArray(), "nothing written");
            IllegalArgumentException strict = assertThrows(IllegalArgumentException.class,
                    () -> model.loadStateDict(source.only(n -> n.startsWith("layers.0.")), true));
            assertTrue(strict.getMessage().contains("missing keys"), strict.getMessage());
        }
    }
}
