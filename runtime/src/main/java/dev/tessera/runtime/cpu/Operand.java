package dev.tessera.runtime.cpu;

import dev.tessera.runtime.DType;
import java.lang.foreign.MemorySegment;

/**
 * A strided view of memory as kernels see it: the segment, the element type, the offset of element 0
 * and one stride per dimension, all counted in elements. Shapes travel separately.
 */
public record Operand(MemorySegment seg, DType dtype, long offset, long[] strides) {}
