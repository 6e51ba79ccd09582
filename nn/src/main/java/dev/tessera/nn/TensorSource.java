package dev.tessera.nn;

import dev.tessera.runtime.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

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
        return renamed(this, n -> n.startsWith(prefix) ? n.substring(prefix.length()) : null, n -> prefix + n);
    }

    /** The tensors whose names pass {@code keep}, read from this source (closing the view leaves this open). */
    default TensorSource only(Predicate<String> keep) {
        return renamed(this, n -> keep.test(n) ? n : null, n -> keep.test(n) ? n : null);
    }

    /**
     * A view of {@code all}: {@code shown} gives a tensor's name in the view (null: left out), {@code source} the name
     * in {@code all} of a name in the view (null: not in the view).
     */
    private static TensorSource renamed(TensorSource all, UnaryOperator<String> shown, UnaryOperator<String> source) {
        return new TensorSource() {
            @Override public Map<String, int[]> shapes() {
                Map<String, int[]> out = new LinkedHashMap<>();
                all.shapes().forEach((n, s) -> {
                    String v = shown.apply(n);
                    if (v != null) out.put(v, s);
                });
                return out;
            }

            @Override public Tensor load(String name) {
                String n = source.apply(name);
                if (n == null || shown.apply(n) == null) {
                    throw new IllegalArgumentException("tensor source: '" + name + "' is not among the selected tensors");
                }
                return all.load(n);
            }

            @Override public void close() {}
        };
    }
}
