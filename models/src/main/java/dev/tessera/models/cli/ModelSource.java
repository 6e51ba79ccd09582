package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Device;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/**
 * Where {@code generate}, {@code eval}, {@code score} and {@code chunks} take their model from: a tessera checkpoint
 * ({@code --checkpoint}), or a model config with weights from elsewhere ({@code --config} and {@code --weights}) — the
 * reference implementation's published checkpoints, a {@code .pt} state dict read without running code, or
 * safetensors under the reference parameter names.
 */
final class ModelSource {
    @Option(names = "--checkpoint", description = "A checkpoint file, or a run folder (its latest checkpoint).")
    Path checkpoint;

    @ArgGroup(exclusive = false)
    ConfigWithWeights external;

    static final class ConfigWithWeights {
        @Option(names = "--config", required = true,
                description = "A model config JSON (an H-Net config in the reference format) or a preset name, with --weights.")
        String config;

        @Option(names = "--weights", required = true,
                description = "Weights under the reference parameter names: .safetensors or a PyTorch .pt state dict (read without running code).")
        Path weights;
    }

    /**
     * A model on its device, what to call where it came from, and what its checkpoint records about the run that
     * wrote it (its metadata and step; none for weights from elsewhere).
     */
    record Opened(ByteLanguageModel model, String origin, Map<String, String> metadata, long step) {
        boolean fromCheckpoint() { return step >= 0; }
    }

    /** The model, with its linear layers' weights stored in {@code linearWeights} (F32: as loaded). */
    Opened open(Device device, DType linearWeights) {
        if (checkpoint != null) {
            CheckpointFiles.Loaded loaded = CheckpointFiles.load(CheckpointFiles.resolve(checkpoint), device, null, Map.of(),
                    linearWeights == DType.F32 ? null : linearWeights);
            return new Opened(loaded.model(), loaded.file().toString(), loaded.state().metadata(), loaded.state().step());
        }
        ByteLanguageModel model = CheckpointFiles.fromConfigAndWeights(external.config, external.weights, device,
                linearWeights == DType.F32 ? null : linearWeights);
        return new Opened(model, external.weights + " (config " + external.config + ")", Map.of(), -1);
    }
}
