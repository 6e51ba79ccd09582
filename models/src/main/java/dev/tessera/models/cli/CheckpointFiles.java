package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.models.ModelCatalog;
import dev.tessera.nn.Init;
import dev.tessera.nn.Optimizer;
import dev.tessera.nn.TrainingCheckpoint;
import dev.tessera.runtime.Generator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Where a run keeps its checkpoints ({@code checkpoint-000300.safetensors} in its folder, the step in the name) and
 * how a model comes back from one: the checkpoint's metadata names the model family and holds its config JSON,
 * so a checkpoint file is all that {@code generate}, {@code eval}, {@code score} and {@code chunks} need.
 */
final class CheckpointFiles {
    static final String FAMILY = "family", CONFIG = "config", MODEL = "model";
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)\\.safetensors");

    private CheckpointFiles() {}

    static Path forStep(Path runDir, long step) { return runDir.resolve(String.format("checkpoint-%06d.safetensors", step)); }

    /** The checkpoint with the highest step in {@code runDir}, if any. */
    static Optional<Path> latest(Path runDir) {
        if (!Files.isDirectory(runDir)) return Optional.empty();
        try (Stream<Path> files = Files.list(runDir)) {
            return files.filter(f -> NAME.matcher(f.getFileName().toString()).matches())
                    .max((a, b) -> Long.compare(stepOf(a), stepOf(b)));
        } catch (IOException e) {
            throw new CliFailure("cannot list " + runDir + ": " + e.getMessage());
        }
    }

    /** The checkpoints in {@code runDir} below {@code file}'s step, the latest first (what a damaged latest one leaves). */
    static List<Path> earlier(Path runDir, Path file) {
        try (Stream<Path> files = Files.list(runDir)) {
            return files.filter(f -> NAME.matcher(f.getFileName().toString()).matches() && stepOf(f) < stepOf(file))
                    .sorted((a, b) -> Long.compare(stepOf(b), stepOf(a))).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private static long stepOf(Path f) {
        Matcher m = NAME.matcher(f.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    /** {@code --checkpoint}: a checkpoint file, or a run folder meaning its latest checkpoint. */
    static Path resolve(Path fileOrRunDir) {
        if (Files.isDirectory(fileOrRunDir)) {
            return latest(fileOrRunDir).orElseThrow(() -> new CliFailure("no checkpoint-*.safetensors in " + fileOrRunDir));
        }
        if (!Files.isRegularFile(fileOrRunDir)) throw new CliFailure("no such checkpoint: " + fileOrRunDir);
        return fileOrRunDir;
    }

    /**
     * A model built from a config file or preset name (without its random draws) and loaded strictly with weights from
     * a safetensors file or a PyTorch {@code .pt} state dict in the reference layout (the restricted reader never runs
     * code from the file).
     */
    static ByteLanguageModel fromConfigAndWeights(String configOrPreset, Path weights, dev.tessera.runtime.Device device) {
        return fromConfigAndWeights(configOrPreset, weights, device, null);
    }

    /**
     * As {@link #fromConfigAndWeights(String, Path, dev.tessera.runtime.Device)}, with the linear layers' weights
     * stored in {@code linearWeights} (null: as built) before the load, which converts each tensor as it copies it.
     */
    static ByteLanguageModel fromConfigAndWeights(String configOrPreset, Path weights, dev.tessera.runtime.Device device,
                                                  dev.tessera.runtime.DType linearWeights) {
        ByteLanguageModel model;
        try (Init.LoadingRegion r = Init.forLoading()) {
            model = ModelCatalog.create(configOrPreset, new Generator(0));
        }
        storeLinearWeights(model, linearWeights);
        return withWeights(model, weights, "the model " + configOrPreset, device);
    }

    /**
     * {@code model} (built in {@link Init#forLoading()}) with every parameter read from {@code weights}, moved to
     * {@code device}; closed, and one line naming both files, when the weights do not fit {@code what}.
     */
    private static ByteLanguageModel withWeights(ByteLanguageModel model, Path weights, String what, dev.tessera.runtime.Device device) {
        try (dev.tessera.runtime.Scope s = dev.tessera.runtime.Scope.open();
             dev.tessera.nn.TensorSource source = dev.tessera.nn.TorchStateDict.open(weights)) {
            model.module().loadStateDict(source, true); // one tensor at a time: the model and one tensor in memory
            model.module().to(device);
        } catch (IllegalArgumentException e) {
            model.close();
            throw new CliFailure(weights + ": does not match " + what + ": " + e.getMessage());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    /**
     * Stores the linear weights of a model built for loading in {@code dtype} (null: as built) before its weights are
     * read, so that the load converts each tensor as it copies it, and returns the F32 blocks this frees to the system:
     * the model then holds half its F32 size in linear weights from the start.
     */
    private static void storeLinearWeights(ByteLanguageModel model, dev.tessera.runtime.DType dtype) {
        if (dtype == null) return;
        model.module().storeLinearWeightsAs(dtype);
        dev.tessera.runtime.MemoryStats.emptyCpuCache();
    }

    /** A model of {@code family} with zero parameters, built to have all of them overwritten by a strict load. */
    static ByteLanguageModel buildForLoading(String family, String json) {
        try (Init.LoadingRegion r = Init.forLoading()) {
            return ModelCatalog.fromConfig(family, json, new Generator(0));
        }
    }

    /** A model and what its checkpoint says about the run. */
    record Loaded(ByteLanguageModel model, Optimizer optimizer, TrainingCheckpoint.State state, Path file) {}

    /**
     * Builds the model the checkpoint describes and loads its weights (and, when given, the optimizer and generators).
     * Besides tessera's own checkpoints this reads a weights-only file in the reference layout: model tensors and a
     * {@code config} JSON in the metadata, no family (inferred from the config), step, optimizer or generator state.
     */
    static Loaded load(Path file, dev.tessera.runtime.Device device, java.util.function.Function<ByteLanguageModel, Optimizer> optimizer,
                       Map<String, Generator> generators) {
        return load(file, device, optimizer, generators, null);
    }

    /** As {@link #load(Path, dev.tessera.runtime.Device, java.util.function.Function, Map)}, with the linear weights stored in {@code linearWeights} (null: as built). */
    static Loaded load(Path file, dev.tessera.runtime.Device device, java.util.function.Function<ByteLanguageModel, Optimizer> optimizer,
                       Map<String, Generator> generators, dev.tessera.runtime.DType linearWeights) {
        Map<String, String> meta = TrainingCheckpoint.metadata(file);
        String family = meta.get(FAMILY), config = meta.get(CONFIG);
        if (config == null) throw new CliFailure(file + ": not a tessera checkpoint (no model 'config' in its metadata)");
        if (family == null) family = ModelCatalog.familyOf(config);
        ByteLanguageModel model = buildForLoading(family, config);
        Optimizer opt = null;
        try {
            storeLinearWeights(model, linearWeights);
            model.module().to(device); // before the optimizer, whose state lives beside the parameters
            opt = optimizer == null ? null : optimizer.apply(model);
            TrainingCheckpoint.State st = TrainingCheckpoint.load(file, model.module(), opt, generators);
            return new Loaded(model, opt, st, file);
        } catch (RuntimeException e) {
            if (opt != null) opt.close();
            model.close();
            throw e;
        }
    }
}
