package dev.tessera.models.cli;

import dev.tessera.runtime.Autocast;
import dev.tessera.runtime.Device;
import java.util.Locale;

/**
 * The {@code --precision} option: how matrix products run on a GPU. Weights, gradients, optimizer state and every
 * other op stay F32 whichever is chosen; only the products' inputs change. The CPU always multiplies in F32.
 * <ul>
 *   <li>{@code fp32}: F32 products, exact to F32;</li>
 *   <li>{@code tf32}: F32 tensors on the TF32 tensor cores (10-bit mantissa inputs, F32 accumulation);</li>
 *   <li>{@code bf16}: products of BF16 copies of the operands on the tensor cores, F32 accumulation and results
 *       (the reference implementation trains in BF16 mixed precision);</li>
 *   <li>{@code auto} (the default): bf16 on a GPU, fp32 on the CPU.</li>
 * </ul>
 */
enum Precision {
    FP32, TF32, BF16;

    static final String DESCRIPTION = "Matrix products on a GPU: fp32, tf32, bf16 or auto (bf16 on a GPU, fp32 on the CPU; default).";

    /** The option's value for {@code device}; a reduced precision asked for on the CPU is refused with one line. */
    static Precision resolve(String option, Device device) {
        String p = option.trim().toLowerCase(Locale.ROOT);
        if (p.equals("auto")) return device.isCpu() ? FP32 : BF16;
        Precision chosen;
        try {
            chosen = valueOf(p.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CliFailure("unknown precision '" + option + "' (known: fp32, tf32, bf16, auto)", 2);
        }
        if (chosen != FP32 && device.isCpu()) {
            throw new CliFailure("--precision " + p + " needs a CUDA device: the CPU multiplies in F32 (use fp32 or auto)", 2);
        }
        return chosen;
    }

    /** Opens this precision on the calling thread until the region closes. */
    Region enter() {
        return switch (this) {
            case FP32 -> () -> {};
            case BF16 -> {
                Autocast a = Autocast.bf16();
                yield a::close;
            }
            case TF32 -> {
                boolean before = Autocast.tf32Allowed();
                Autocast.allowTf32(true);
                yield () -> Autocast.allowTf32(before);
            }
        };
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }

    /** A precision in effect; closing restores what was before. */
    interface Region extends AutoCloseable {
        @Override void close();
    }
}
