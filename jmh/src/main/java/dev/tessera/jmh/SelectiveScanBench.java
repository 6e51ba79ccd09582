package dev.tessera.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.kernels.scan.SelectiveScanReference;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
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
public class SelectiveScanBench extends JmhDefaults {
    @Param({"4"}) public int b;
    @Param({"2048"}) public int l;
    @Param({"8"}) public int h;
    @Param({"64"}) public int p;
    @Param({"64"}) public int n;
    @Param({"1"}) public int g;
    /**
     * {@code none}: the bare recurrence on Δ = dt. {@code layer}: what the Mamba-2 layer passes — Δ = softplus(dt +
     * dt_bias) and the skip term D·x (the unfused form computes both with runtime ops around its recurrence).
     */
    @Param({"none"}) public String options;

    private Tensor x, dt, a, bm, cm, dtBias, dSkip;
    private ScanOptions scanOptions;

    @Setup(Level.Trial)
    public void setup() {
        Tensor[] in = ScanInputs.mamba2(new Generator(1), b, l, h, p, n, g);
        x = in[0];
        dt = in[1];
        a = in[2];
        bm = in[3];
        cm = in[4];
        dtBias = Tensor.rand(new Generator(2), h).mul(-4).add(-1);
        dSkip = Tensor.ones(h);
        scanOptions = switch (options) {
            case "none" -> ScanOptions.NONE;
            case "layer" -> ScanOptions.builder().dtBias(dtBias).softplus(true).dSkip(dSkip).build();
            default -> throw new IllegalArgumentException("options: none or layer, got " + options);
        };
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, dt, a, bm, cm, dtBias, dSkip}) t.close();
    }

    @Benchmark
    public long tessera() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return SelectiveScan.apply(x, dt, a, bm, cm, scanOptions).y().numel();
        }
    }

    @Benchmark
    public long reference() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            return SelectiveScanReference.forward(x, dt, a, bm, cm, scanOptions).y().numel();
        }
    }

    /** The same recurrence from broadcasting runtime ops, one step at a time ({@link Unfused#scan}). */
    @Benchmark
    public long unfused() {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            if (scanOptions == ScanOptions.NONE) return Unfused.scan(x, dt, a, bm, cm, g).numel();
            Tensor delta = dt.add(dtBias.reshape(1, 1, h)).softplus();
            return Unfused.scan(x, delta, a, bm, cm, g).add(x.mul(dSkip.reshape(1, 1, h, 1))).numel();
        }
    }
}
