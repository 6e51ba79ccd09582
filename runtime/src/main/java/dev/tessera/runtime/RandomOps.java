package dev.tessera.runtime;

import dev.tessera.runtime.cpu.CpuPool;
import dev.tessera.runtime.cuda.CudaDevice;
import dev.tessera.runtime.cpu.Elements;

/**
 * Random tensors from a {@link Generator}. Element j of a draw uses block {@code start + j/4}, word {@code j%4}
 * (uniforms, normals) or block {@code start + j/2}, words {@code 2(j%2)} and {@code 2(j%2)+1} (64-bit integers),
 * so any device computes the same element from (seed, offset, j) alone.
 */
final class RandomOps {
    private RandomOps() {}

    static Tensor uniform(Generator gen, DType dt, int[] shape, Device device) {
        if (!dt.isFloating()) throw new IllegalArgumentException("rand: needs a floating dtype, got " + dt);
        Shape.checkShape("rand", shape);
        Tensor t = Tensor.allocate(dt, shape, device);
        long n = t.numel();
        long start = gen.reserve((n + 3) / 4);
        if (!device.isCpu()) {
            if (n > 0) dev.tessera.runtime.cuda.CudaRandom.uniform(CudaDevice.get(device.index()), t.deviceOperand(), gen.seed(), start);
            return t;
        }
        var m = t.segment();
        CpuPool.parallelFor((n + 3) / 4, 1024, (s, e) -> {
            int[] w = new int[4];
            for (long b = s; b < e; b++) {
                gen.block(start + b, w);
                for (int l = 0; l < 4 && b * 4 + l < n; l++) Elements.set(m, dt, b * 4 + l, Generator.uniform(w[l]));
            }
        });
        return t;
    }

    /** Box–Muller on word pairs (0,1) and (2,3) of each block: cos for the even element, sin for the odd. */
    static Tensor normal(Generator gen, DType dt, int[] shape, Device device) {
        if (!dt.isFloating()) throw new IllegalArgumentException("randn: needs a floating dtype, got " + dt);
        Shape.checkShape("randn", shape);
        Tensor t = Tensor.allocate(dt, shape, device);
        long n = t.numel();
        long start = gen.reserve((n + 3) / 4);
        if (!device.isCpu()) {
            if (n > 0) dev.tessera.runtime.cuda.CudaRandom.normal(CudaDevice.get(device.index()), t.deviceOperand(), gen.seed(), start);
            return t;
        }
        var m = t.segment();
        CpuPool.parallelFor((n + 3) / 4, 1024, (s, e) -> {
            int[] w = new int[4];
            for (long b = s; b < e; b++) {
                gen.block(start + b, w);
                for (int pair = 0; pair < 2; pair++) {
                    double r = Math.sqrt(-2 * Math.log(Generator.uniformOpenZero(w[2 * pair])));
                    double theta = 2 * Math.PI * Generator.uniform(w[2 * pair + 1]);
                    long j = b * 4 + 2 * pair;
                    if (j < n) Elements.set(m, dt, j, r * Math.cos(theta));
                    if (j + 1 < n) Elements.set(m, dt, j + 1, r * Math.sin(theta));
                }
            }
        });
        return t;
    }

    static Tensor randint(Generator gen, long low, long high, int[] shape) {
        if (high <= low) throw new IllegalArgumentException("randint: empty range [" + low + ", " + high + ")");
        Shape.checkShape("randint", shape);
        Tensor t = Tensor.allocate(DType.I64, shape, Device.cpu());
        long n = t.numel();
        long start = gen.reserve((n + 1) / 2);
        long range = high - low;
        var m = t.segment();
        CpuPool.parallelFor((n + 1) / 2, 1024, (s, e) -> {
            int[] w = new int[4];
            for (long b = s; b < e; b++) {
                gen.block(start + b, w);
                for (int h = 0; h < 2 && b * 2 + h < n; h++) {
                    long v = ((long) w[2 * h] << 32) | (w[2 * h + 1] & 0xFFFFFFFFL);
                    m.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, b * 2 + h, low + Long.remainderUnsigned(v, range));
                }
            }
        });
        return t;
    }

    static Tensor bernoulli(Generator gen, Tensor p) {
        p.checkAlive("bernoulli");
        if (!p.dtype.isFloating()) throw new IllegalArgumentException("bernoulli: probabilities must be floating, got " + p.dtype);
        try (Grad.Region g = Grad.noGrad(); Scope s = Scope.open()) {
            Tensor u = uniform(gen, p.dtype == DType.F64 ? DType.F64 : DType.F32, p.shape, p.device());
            return s.keep(u.lt(p).to(p.dtype));
        }
    }
}
