package dev.tessera.runtime.spi;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import dev.tessera.runtime.Tensor;
import java.lang.foreign.MemorySegment;

/** What the runtime package lends to {@link KernelSupport}; implemented inside the runtime, installed once. */
public interface TensorInternals {
    MemorySegment segment(Tensor t);

    long offset(Tensor t);

    long[] strides(Tensor t);

    Tensor allocate(DType dtype, int[] shape, Device device, boolean zero);

    long profileStart();

    void profileStop(String op, long start);

    Tensor record(String op, Tensor out, Tensor[] inputs, Tensor[] saved, KernelSupport.Backward backward);

    Tensor gradientDestination(int input);
}
