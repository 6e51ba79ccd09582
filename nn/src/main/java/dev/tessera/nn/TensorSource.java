package dev.tessera.nn;

import dev.tessera.runtime.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Named tensors whose shapes are known before any of their data is read: a checkpoint file opened to be loaded one
 * tensor at a time ({@link TorchStateDict#open}, {@link SafeTensors#open}), so that
 * {@link Module#loadStateDict(TensorSource, boolean)} fills a model without holding a second copy of all its weights.
 */
public interface TensorSource extends AutoCloseable {
    /** Every tensor's shape by name, in file order (the arrays are the caller's to keep). */
    Map<String, int[]> shapes();

    /**
     * A fresh contiguous CPU copy of tensor {@code name}, which the caller closes. A fault in its data is a
     * {@link CheckpointException} naming the file and the tensor.
     */
    Tensor load(String name);

    /** Releases the file. Tensors already loaded stay valid. */
    @Override
    void close();

    /**
     * The tensors whose names start with {@code prefix}, named without it (an optimizer's state saved under
     * "optim." beside the parameters); closing the view leaves this open.
     */
    default TensorSource under(String prefix) {
        TensorSource all = this;
        return new TensorSource() {
            @Override public Map<String, int[]> shapes() {
                Map<String, int[]> out = new LinkedHashMap<>();
                all.shapes().forEach((n, s) -> {
                    if (n.startsWith(prefix)) out.put(n.substring(prefix.length()), s);
                });
                return out;
            }

            @Override public Tensor load(String name) { return all.load(prefix + name); }

            @Override public void close() {}
        };
    }

    /** The tensors whose names pass {@code keep}, read from this source (closing the view leaves this open). */
    default TensorSource only(Predicate<String> keep) {
        TensorSource all = this;
        return new TensorSource() {
            @Override public Map<String, int[]> shapes() {
                Map<String, int[]> out = new LinkedHashMap<>();
                all.shapes().forEach((n, s) -> {
                    if (keep.test(n)) out.put(n, s);
                });
                return out;
            }

            @Override public Tensor load(String name) {
                if (!keep.test(name)) throw new IllegalArgumentException("tensor source: '" + name + "' is not among the selected tensors");
                return all.load(name);
            }

            @Override public void close() {}
        };
    }
}
