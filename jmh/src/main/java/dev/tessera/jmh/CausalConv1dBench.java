package dev.tessera.jmh;

import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Mamba's depthwise causal conv1d (width 4, channels last) forward + backward at hnet-tiny's outer layer size:
 * x [8, 256, 160] read as a slice of a wider projection [8, 256, 400], as in the layer. {@code tessera} runs the
 * fused kernel and its backward (dx, dw, db); {@code unfused} the same math from runtime ops: four shifted copies of
 * x (zero-padded on the left), each times its tap's weights, summed with the bias, differentiated by autograd.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class CausalConv1dBench extends JmhDefaults {
    @Param({"160"}) public int ch;
    /**
     * {@code true}: 64 MB of other data go through the caches before every call (untimed), as in a training step,
     * where the layer's input and gradient were written long before the convolution's backward reads them. Hot, the
     * operands stay in L2 between calls and memory traffic is invisible.
     */
    @Param({"false"}) public boolean coldCache;

    private final float[] flush = new float[16 << 20];
    private float sink;

    private Tensor wide, w, b, dy;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        wide = Tensor.randn(g, 8, 256, 400);
        w = Tensor.randn(g, ch, 4).requiresGrad(true);
        b = Tensor.randn(g, ch).requiresGrad(true);
        dy = Tensor.randn(g, 8, 256, ch);
    }

    @Setup(Level.Invocation)
    public void evict() {
        if (!coldCache) return;
        float s = 0;
        for (int i = 0; i < flush.length; i += 16) s += flush[i] += 1; // a store per cache line: every line is evicted
        sink += s;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {wide, w, b, dy}) t.close();
    }

    private Tensor input() { return wide.narrow(2, 100, ch).requiresGrad(true); }

    @Benchmark
    public long tessera() {
        w.zeroGrad();
        b.zeroGrad();
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor x = input();
            Functional.causalConv1d(x, w, b).backward(dy);
            return x.grad().numel();
        }
    }

    @Benchmark
    public long unfused() {
        w.zeroGrad();
        b.zeroGrad();
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor x = input();
            int len = x.size(1);
            Tensor y = b;
            for (int j = 0; j < 4; j++) {
                int shift = 3 - j; // tap j reads x[t - shift]
                Tensor shifted = shift == 0 ? x
                        : Tensor.cat(List.of(Tensor.zeros(x.size(0), shift, ch), x.narrow(1, 0, len - shift)), 1);
                y = shifted.mul(w.narrow(1, j, 1).reshape(ch)).add(y);
            }
            y.backward(dy);
            return x.grad().numel();
        }
    }
}
