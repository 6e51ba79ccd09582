package dev.tessera.jmh.gpu;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.jmh.ScanInputs;
import dev.tessera.jmh.Unfused;
import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;

/**
 * The Mamba-2 selective scan forward on CUDA at the CPU benchmark's shape (B=4, L=2048, H=8, P=64, N=64), against
 * the same recurrence from unfused runtime ops on the GPU ({@link Unfused#scan}). gpu-check.sh also times
 * PyTorch's sequential and chunked scans on the same shape.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class CudaScanBench extends JmhDefaults {
    @Param({"4"}) public int b;
    @Param({"2048"}) public int l;
    @Param({"8"}) public int h;
    @Param({"64"}) public int p;
    @Param({"64"}) public int n;
    @Param({"1"}) public int g;

    private Tensor x, dt, a, bm, cm;

    @Setup(Level.Trial)
    public void setup() {
        try (Scope s = Scope.open()) {
            Tensor[] in = ScanInputs.mamba2(new Generator(1), b, l, h, p, n, g);
            x = s.keep(in[0].to(GpuBench.GPU));
            dt = s.keep(in[1].to(GpuBench.GPU));
            a = s.keep(in[2].to(GpuBench.GPU));
            bm = s.keep(in[3].to(GpuBench.GPU));
            cm = s.keep(in[4].to(GpuBench.GPU));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, dt, a, bm, cm}) t.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open()) {
            SelectiveScan.apply(x, dt, a, bm, cm, ScanOptions.NONE);
            GpuBench.sync();
        }
    }

    @Benchmark
    public void unfused() {
        try (Scope s = Scope.open()) {
            Unfused.scan(x, dt, a, bm, cm, g);
            GpuBench.sync();
        }
    }
}
