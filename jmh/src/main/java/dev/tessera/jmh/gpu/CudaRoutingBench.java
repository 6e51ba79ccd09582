package dev.tessera.jmh.gpu;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

import dev.tessera.jmh.JmhDefaults;
import dev.tessera.jmh.Unfused;
import dev.tessera.kernels.routing.ChunkRouter;
import dev.tessera.kernels.routing.Chunks;
import dev.tessera.kernels.routing.Routing;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.cuda.DeviceBuffer;

/**
 * H-Net chunk routing on CUDA (route, chunk, dechunk, forward) against a device copy moving the bytes the three
 * kernels must move at least (read q, k, x, write the output: 4·B·L·D floats; target ≥ 0.6×) and against the same
 * computation from unfused runtime ops on the GPU. Inputs as in the CPU benchmark: about a third of the positions
 * are boundaries.
 */
public class CudaRoutingBench extends JmhDefaults {
    @Param({"8"}) public int batch;
    @Param({"16384"}) public int length;
    @Param({"1024"}) public int dim;

    private Tensor q, k, x;
    private DeviceBuffer src, dst;

    @Setup(Level.Trial)
    public void setup() {
        Generator g = new Generator(1);
        try (Scope s = Scope.open()) {
            Tensor h = Tensor.randn(g, batch, length, dim);
            Tensor shifted = h.narrow(1, 0, length - 1).pad(new int[] {0, 0, 1, 0, 0, 0}, 0);
            x = s.keep(h.to(GpuBench.GPU));
            q = x;
            k = s.keep(shifted.mul(0.02).add(Tensor.randn(g, batch, length, dim)).to(GpuBench.GPU));
        }
        long bytes = 2L * 4 * batch * length * dim;
        src = GpuBench.device().temporary(bytes);
        dst = GpuBench.device().temporary(bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        k.close();
        x.close();
        src.close();
        dst.close();
    }

    @Benchmark
    public void tessera() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Routing r = ChunkRouter.route(q, k);
            Chunks ch = ChunkRouter.chunk(x, r.b());
            ChunkRouter.dechunk(ch.x(), r.p(), r.b(), r.c());
            GpuBench.sync();
        }
    }

    @Benchmark
    public void copySameBytes() {
        GpuBench.device().copyDeviceToDevice(src.address(), dst.address(), src.bytes());
        GpuBench.sync();
    }

    @Benchmark
    public void unfused() {
        try (Scope s = Scope.open(); Grad.Region g = Grad.noGrad()) {
            Unfused.routing(q, k, x);
            GpuBench.sync();
        }
    }
}
