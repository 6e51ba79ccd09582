package dev.tessera.runtime;

/**
 * Element types. F32 is the default. BF16 and F16 are storage types: the CPU computes with them by
 * converting to F32. Integer and BOOL tensors serve indexing, masks and comparisons.
 *
 * <p>Promotion (see {@link #promote}): BOOL &lt; U8 &lt; I32 &lt; I64 &lt; BF16/F16 &lt; F32 &lt; F64, where any
 * floating type beats any integer type, BF16 with F16 gives F32, and a floating type keeps its width
 * against integers (I64 + BF16 = BF16), as in NumPy and PyTorch.
 */
public enum DType {
    F32(4, true), F64(8, true), BF16(2, true), F16(2, true), I32(4, false), I64(8, false), U8(1, false), BOOL(1, false);

    private final int byteSize;
    private final boolean floating;

    DType(int byteSize, boolean floating) {
        this.byteSize = byteSize;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int byteSize() { return byteSize; }

    /** True for F32, F64, BF16 and F16. */
    public boolean isFloating() { return floating; }

    /** True for I32, I64, U8 and BOOL. */
    public boolean isIntegral() { return !floating; }

    private int rank() {
        return switch (this) {
            case BOOL -> 0; case U8 -> 1; case I32 -> 2; case I64 -> 3;
            case BF16, F16 -> 4; case F32 -> 5; case F64 -> 6;
        };
    }

    /** The type two operands are computed in: the documented promotion table of this class. */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if ((a == BF16 && b == F16) || (a == F16 && b == BF16)) return F32;
        return a.rank() >= b.rank() ? a : b;
    }

    /** The floating type an operation that needs real numbers (exp, mean, ...) computes integers in. */
    public DType toFloating() { return floating ? this : F32; }
}
