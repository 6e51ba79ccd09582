package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Scalar reads and writes of one element of any dtype, and the BF16 conversions. */
public final class Elements {
    private Elements() {}

    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;
    static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
    static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT;
    static final ValueLayout.OfByte B = ValueLayout.JAVA_BYTE;

    /** Element {@code i} (in elements, not bytes) as a double. */
    public static double get(MemorySegment m, DType t, long i) {
        return switch (t) {
            case F32 -> m.getAtIndex(F, i);
            case F64 -> m.getAtIndex(D, i);
            case BF16 -> bf16ToFloat(m.getAtIndex(S, i));
            case F16 -> Float.float16ToFloat(m.getAtIndex(S, i));
            case I32 -> m.getAtIndex(I, i);
            case I64 -> m.getAtIndex(L, i);
            case U8 -> m.get(B, i) & 0xFF;
            case BOOL -> m.get(B, i) != 0 ? 1 : 0;
        };
    }

    /** Element {@code i} as a long (floating values are truncated toward zero). */
    public static long getLong(MemorySegment m, DType t, long i) {
        return switch (t) {
            case I32 -> m.getAtIndex(I, i);
            case I64 -> m.getAtIndex(L, i);
            case U8 -> m.get(B, i) & 0xFF;
            case BOOL -> m.get(B, i) != 0 ? 1 : 0;
            default -> (long) get(m, t, i);
        };
    }

    /** Writes {@code v} to element {@code i}, rounding to the dtype (BOOL stores v != 0). */
    public static void set(MemorySegment m, DType t, long i, double v) {
        switch (t) {
            case F32 -> m.setAtIndex(F, i, (float) v);
            case F64 -> m.setAtIndex(D, i, v);
            case BF16 -> m.setAtIndex(S, i, floatToBf16((float) v));
            case F16 -> m.setAtIndex(S, i, Float.floatToFloat16((float) v));
            case I32 -> m.setAtIndex(I, i, (int) v);
            case I64 -> m.setAtIndex(L, i, (long) v);
            case U8 -> m.set(B, i, (byte) (int) v);
            case BOOL -> m.set(B, i, (byte) (v != 0 ? 1 : 0));
        }
    }

    /** Writes an integer value exactly (no trip through double for I64). */
    public static void setLong(MemorySegment m, DType t, long i, long v) {
        switch (t) {
            case I32 -> m.setAtIndex(I, i, (int) v);
            case I64 -> m.setAtIndex(L, i, v);
            case U8 -> m.set(B, i, (byte) v);
            case BOOL -> m.set(B, i, (byte) (v != 0 ? 1 : 0));
            default -> set(m, t, i, v);
        }
    }

    /** BF16 is the top half of an F32. */
    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** Rounds to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
