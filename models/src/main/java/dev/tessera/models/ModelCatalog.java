package dev.tessera.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.models.baseline.IsotropicConfig;
import dev.tessera.models.baseline.IsotropicLM;
import dev.tessera.models.hnet.HNetByteModel;
import dev.tessera.models.hnet.HNetConfig;
import dev.tessera.runtime.Generator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds models by preset name, config file, or a checkpoint's saved family and config. A config file is an H-Net
 * config when it has {@code arch_layout} and an isotropic baseline's when it has {@code layout}.
 */
public final class ModelCatalog {
    /** The built-in presets, H-Net ones first. */
    public static final List<String> PRESETS = List.of("hnet-tiny", "hnet-tiny-whitespace", "hnet-2stage-tiny", "hnet-small", "hnet-1stage-L",
            "transformer-tiny", "mamba-tiny");

    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelCatalog() {}

    /** A fresh model from a preset name or a path to a JSON config file. */
    public static ByteLanguageModel create(String presetOrFile, Generator gen) {
        if (PRESETS.contains(presetOrFile)) {
            return presetOrFile.startsWith("hnet") ? new HNetByteModel(HNetConfig.preset(presetOrFile), gen)
                    : new IsotropicLM(IsotropicConfig.preset(presetOrFile), gen);
        }
        Path file = Path.of(presetOrFile);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("unknown model '" + presetOrFile + "': neither a preset (" + String.join(", ", PRESETS)
                    + ") nor a config file");
        }
        String json;
        try {
            json = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read model config " + file + ": " + e.getMessage(), e);
        }
        try {
            return fromConfig(familyOf(json), json, gen);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** A fresh model of {@code family} ("hnet" or "isotropic") from its config JSON. */
    public static ByteLanguageModel fromConfig(String family, String json, Generator gen) {
        return switch (family) {
            case "hnet" -> new HNetByteModel(HNetConfig.fromJson(json), gen);
            case "isotropic" -> new IsotropicLM(IsotropicConfig.fromJson(json), gen);
            default -> throw new IllegalArgumentException("unknown model family '" + family + "' (known: hnet, isotropic)");
        };
    }

    /** The family a config JSON describes: "hnet" when it has {@code arch_layout}, "isotropic" when it has {@code layout}. */
    public static String familyOf(String json) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("a model config must be a JSON object");
        if (root.has("arch_layout")) return "hnet";
        if (root.has("layout")) return "isotropic";
        throw new IllegalArgumentException("a model config needs 'arch_layout' (H-Net) or 'layout' (isotropic baseline)");
    }
}
