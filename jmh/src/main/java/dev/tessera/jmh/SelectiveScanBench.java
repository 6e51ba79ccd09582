package dev.tessera.jmh;

import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.kernels.scan.SelectiveScanReference;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Selective scan forward (Mamba-2 form, F32, no options) at B=4, L=2048, H=8, P=64, N=64, G=1: the Vector API kernel
 * ({@code tessera}) against the float64 sequential reference ({@code reference}) and the same recurrence composed from
 * runtime tensor ops, one position at a time on [B,H,P,N] states ({@code unfused}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class SelectiveScanBench {
    @Param({"4"}) public int b;
    @Param({"2048"}) public int l;
    @Param({"8"}) public int h;
    @Param({"64"}) public int p;
    @Param({"64"}) public int n;
    @Param({"1"}) public int g;

    private Tensor x, dt, a, bm, cm;

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        x = Tensor.randn(gen, b, l, h, p);
        dt = Tensor.rand(gen, b, l, h).mul(0.1).add(0.001);
        a = Tensor.rand(gen, h).add(0.5).neg();
        bm = Tensor.randn(gen, b, l, g, n);
        cm = Tensor.randn(gen, b, l, g, n);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, dt, a, bm, cm}) t.close();
    }

    @Benchmark
    public long tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return SelectiveScan.apply(x, dt, a, bm, cm, ScanOptions.NONE).y().numel();
        }
    }

    @Benchmark
    public long reference() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return SelectiveScanReference.forward(x, dt, a, bm, cm, ScanOptions.NONE).y().numel();
        }
    }

    /** S ← exp(Δ_t·A)·S + (Δ_t·x_t)⊗B_t and y_t = S·C_t with broadcasting tensor ops, then y = stack of y_t. */
    @Benchmark
    public long unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            Tensor state = Tensor.zeros(b, h, p, n);
            Tensor aRow = a.reshape(1, h);
            List<Tensor> ys = new ArrayList<>(l);
            int hpg = h / g;
            for (int t = 0; t < l; t++) {
                Tensor prev = state;
                try (dev.tessera.runtime.Scope step = dev.tessera.runtime.Scope.open()) { // frees each step's temporaries
                    Tensor delta = dt.select(1, t);                                          // [B,H]
                    Tensor decay = delta.mul(aRow).exp().reshape(b, h, 1, 1);
                    Tensor xd = x.select(1, t).mul(delta.reshape(b, h, 1)).reshape(b, h, p, 1); // Δ·x, [B,H,P,1]
                    Tensor bt = bm.select(1, t).reshape(b, g, 1, 1, n).expand(b, g, hpg, 1, n).reshape(b, h, 1, n);
                    Tensor ct = cm.select(1, t).reshape(b, g, 1, n, 1).expand(b, g, hpg, n, 1).reshape(b, h, n, 1);
                    state = step.keep(prev.mul(decay).add(xd.mul(bt)));
                    ys.add(step.keep(state.matmul(ct).reshape(b, h, p).contiguous()));
                }
                prev.close();
            }
            return Tensor.stack(ys, 1).numel();
        }
    }
}
