package dev.tessera.nn;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One self-describing safetensors file per checkpoint: the model's parameters under their own names, the optimizer
 * state under {@code optim.}, and in {@code __metadata__} the step, the model config, and the offsets of the
 * generators that drive data sampling and dropout, so a resumed run continues the identical loss curve.
 */
public final class TrainingCheckpoint {
    /** Prefix of optimizer tensors; evaluation and scoring ignore them. */
    public static final String OPTIM_PREFIX = "optim.";

    private TrainingCheckpoint() {}

    /** What a checkpoint restores besides tensors. */
    public record State(long step, Map<String, String> metadata) {
        public String get(String key) {
            String v = metadata.get(key);
            if (v == null) throw new CheckpointException("checkpoint metadata has no '" + key + "'");
            return v;
        }
    }

    /**
     * Writes model, optimizer, step, {@code extra} metadata (e.g. "config" → JSON) and the named generators'
     * seeds and offsets, atomically.
     */
    public static void save(Path path, Module model, Optimizer optimizer, long step, Map<String, String> extra,
                            Map<String, Generator> generators) {
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.stateDict());
        if (optimizer != null) optimizer.stateDict().forEach((k, v) -> tensors.put(OPTIM_PREFIX + k, v));
        Map<String, String> meta = new LinkedHashMap<>(extra);
        meta.put("step", Long.toString(step));
        if (optimizer != null) meta.put("optim.step", Long.toString(optimizer.stepCount()));
        generators.forEach((name, g) -> {
            meta.put("rng." + name + ".seed", Long.toString(g.seed()));
            meta.put("rng." + name + ".offset", Long.toString(g.offset()));
        });
        SafeTensors.write(path, tensors, meta);
    }

    /**
     * Loads a checkpoint into {@code model} (strictly: every parameter present, no stray names besides
     * optimizer state) and, when given, {@code optimizer}; moves each named generator to its saved offset.
     * The {@code step} metadata is required only when an optimizer or generators are restored.
     */
    public static State load(Path path, Module model, Optimizer optimizer, Map<String, Generator> generators) {
        try (SafeTensors.Reader r = SafeTensors.open(path); Scope s = Scope.open()) {
            try {
                model.loadStateDict(r.only(name -> !name.startsWith(OPTIM_PREFIX)), true); // one tensor at a time
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(path + ": does not match the model: " + e.getMessage(), e);
            }
            Map<String, String> meta = r.metadata();
            // A weights-only file (e.g. converted from the reference implementation) has no step; that is fine when
            // nothing is resumed from it (no optimizer, no generators), and it then counts as step 0.
            long step = !meta.containsKey("step") && optimizer == null && generators.isEmpty() ? 0 : parseLong(path, meta, "step");
            if (optimizer != null) {
                try {
                    optimizer.loadStateDict(r.under(OPTIM_PREFIX), meta.containsKey("optim.step") ? parseLong(path, meta, "optim.step") : step);
                } catch (IllegalArgumentException e) {
                    throw new CheckpointException(path + ": its optimizer state does not match the optimizer: " + e.getMessage(), e);
                }
            }
            generators.forEach((name, g) -> {
                String key = "rng." + name + ".offset";
                if (!meta.containsKey(key)) throw new CheckpointException(path + ": metadata has no generator offset '" + key + "'");
                g.setOffset(parseLong(path, meta, key));
            });
            return new State(step, Map.copyOf(meta));
        }
    }

    /** Reads only the metadata (e.g. to build the model from its saved config before loading). */
    public static Map<String, String> metadata(Path path) {
        try (SafeTensors.Reader r = SafeTensors.open(path)) {
            return Map.copyOf(r.metadata());
        }
    }

    private static long parseLong(Path path, Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) throw new CheckpointException(path + ": metadata has no '" + key + "'");
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new CheckpointException(path + ": metadata '" + key + "' is not an integer: " + v);
        }
    }
}
