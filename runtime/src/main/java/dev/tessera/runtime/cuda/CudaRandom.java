package dev.tessera.runtime.cuda;

import dev.tessera.runtime.DType;

/**
 * Random fills on the GPU (native/cuda/runtime/random.cu) with the CPU's Philox 4x32-10 stream: key = seed,
 * counter = block index, and RandomOps' element mapping: element j of a uniform or normal draw takes block
 * {@code startBlock + j/4}, word {@code j%4}; element j of a randint takes block {@code startBlock + j/2}, words
 * {@code 2(j%2)} and {@code 2(j%2)+1}. {@code startBlock} is what {@code Generator.reserve} returned, so a draw
 * here equals the CPU's for the same generator state: bit for bit for uniform and randint; for normal, CUDA's
 * double log/sin/cos may differ from Java's in the last bit of a double, so rarely an element is one ulp of its
 * dtype away. {@code out} is contiguous; the caller reserves (numel+3)/4 blocks (uniform, normal) or (numel+1)/2
 * (randint) on its generator.
 */
public final class CudaRandom {
    private CudaRandom() {}

    private static final String MODULE = "random";

    /** Uniform in [0, 1) from the top 24 bits of each word; out F32, F64, BF16 or F16. */
    public static void uniform(CudaDevice d, DeviceOperand out, long seed, long startBlock) {
        fill(d, "uniform", out, seed, startBlock);
    }

    /** Standard normal by Box–Muller on word pairs (0,1), (2,3): cos for even elements, sin for odd. */
    public static void normal(CudaDevice d, DeviceOperand out, long seed, long startBlock) {
        fill(d, "normal", out, seed, startBlock);
    }

    /** Integers in [low, high): low + Long.remainderUnsigned(hi·2³² | lo, high − low); out I64. */
    public static void randint(CudaDevice d, DeviceOperand out, long seed, long startBlock, long low, long high) {
        if (high <= low) throw new IllegalArgumentException("randint: empty range [" + low + ", " + high + ")");
        if (out.dtype() != DType.I64) throw new IllegalArgumentException("randint: out must be I64, got " + out.dtype());
        CudaIndexing.requireContiguous("randint", out);
        long n = out.numel();
        if (n == 0) return;
        d.kernel(MODULE, "randint_i64").grid(CudaIndexing.grid(d, (n + 1) / 2)).block(256)
                .ptr(out.address()).i64(n).i64(seed).i64(startBlock).i64(low).i64(high - low)
                .launch();
    }

    private static void fill(CudaDevice d, String op, DeviceOperand out, long seed, long startBlock) {
        if (!out.dtype().isFloating()) throw new IllegalArgumentException(op + ": needs a floating dtype, got " + out.dtype());
        CudaIndexing.requireContiguous(op, out);
        long n = out.numel();
        if (n == 0) return;
        d.kernel(MODULE, op + "_" + out.suffix()).grid(CudaIndexing.grid(d, (n + 3) / 4)).block(256)
                .ptr(out.address()).i64(n).i64(seed).i64(startBlock)
                .launch();
    }
}
