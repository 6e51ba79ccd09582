package dev.tessera.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import dev.tessera.kernels.scan.ScanOptions;
import dev.tessera.kernels.scan.SelectiveScan;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
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
 * Selective scan forward + backward (Mamba-2 form, scalar A, no options) at the sizes of {@link SelectiveScanBench}:
 * B=4, L=2048, H=8, P=64, N=64, G=1. One op is y = scan(x, dt, A, Bm, Cm) followed by y.backward(dy), giving the
 * gradients of all five inputs. {@code tessera} runs the F32 CPU kernels (forward and backward), {@code reference}
 * the same call on F64 tensors, i.e. the float64 sequential reference forward and its hand-written backward. The
 * backward alone is this benchmark's time minus {@link SelectiveScanBench}'s forward time.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class SelectiveScanBackwardBench extends JmhDefaults {
    @Param({"4"}) public int b;
    @Param({"2048"}) public int l;
    @Param({"8"}) public int h;
    @Param({"64"}) public int p;
    @Param({"64"}) public int n;
    @Param({"1"}) public int g;

    private Tensor[] f32, f64;
    private Tensor dy32, dy64;

    @Setup(Level.Trial)
    public void setup() {
        Generator gen = new Generator(1);
        f32 = ScanInputs.mamba2(gen, b, l, h, p, n, g);
        f64 = new Tensor[5];
        for (int i = 0; i < 5; i++) {
            f64[i] = f32[i].to(DType.F64).clone().requiresGrad(true);
            f32[i].requiresGrad(true);
        }
        dy32 = Tensor.randn(gen, b, l, h, p);
        dy64 = dy32.to(DType.F64).clone();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : f32) t.close();
        for (Tensor t : f64) t.close();
        dy32.close();
        dy64.close();
    }

    private static long run(Tensor[] in, Tensor dy) {
        for (Tensor t : in) t.zeroGrad();
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open()) {
            SelectiveScan.apply(in[0], in[1], in[2], in[3], in[4], ScanOptions.NONE).y().backward(dy);
            return in[0].grad().numel();
        }
    }

    @Benchmark
    public long tessera() { return run(f32, dy32); }

    @Benchmark
    public long reference() { return run(f64, dy64); }
}
