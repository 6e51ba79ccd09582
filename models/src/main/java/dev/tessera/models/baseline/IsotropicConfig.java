package dev.tessera.models.baseline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.models.ConfigJson;
import java.io.IOException;

/**
 * Configuration of an isotropic byte-level baseline: one {@link dev.tessera.nn.Isotropic} stack described by a
 * layout string ("T4" = a Transformer, "m6" = a Mamba-2 stack) at a single width. JSON keys follow H-Net's config
 * where they mean the same ({@code d_model}, {@code d_intermediate}, {@code ssm_cfg}, {@code attn_cfg}), with a
 * top-level {@code layout} instead of {@code arch_layout}.
 */
public record IsotropicConfig(String layout, int dModel, int dIntermediate, int numHeads, int rotaryDim, int window,
                              int dState, int dConv, int expand, int headDim) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public IsotropicConfig {
        dev.tessera.nn.Isotropic.parse(layout);
        if (dModel <= 0) throw new IllegalArgumentException("isotropic config: d_model must be positive, got " + dModel);
    }

    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("layout", layout).put("d_model", dModel).put("d_intermediate", dIntermediate).put("vocab_size", 256);
        root.putObject("ssm_cfg").put("d_state", dState).put("d_conv", dConv).put("expand", expand).put("headdim", headDim);
        root.putObject("attn_cfg").put("num_heads", numHeads).put("rotary_emb_dim", rotaryDim).put("window_size", window);
        return root.toString();
    }

    public static IsotropicConfig fromJson(String json) {
        try {
            JsonNode root = ConfigJson.object(JSON.readTree(json), "isotropic config");
            JsonNode ssm = ConfigJson.section(root, "ssm_cfg"), attn = ConfigJson.section(root, "attn_cfg");
            return new IsotropicConfig(ConfigJson.text(root.required("layout"), "layout"), ConfigJson.integer(root.required("d_model"), "d_model"),
                    ConfigJson.intField(root, "d_intermediate", 0), ConfigJson.intField(attn, "num_heads", 4),
                    ConfigJson.intField(attn, "rotary_emb_dim", 0), ConfigJson.intField(attn, "window_size", -1),
                    ConfigJson.intField(ssm, "d_state", 16), ConfigJson.intField(ssm, "d_conv", 4), ConfigJson.intField(ssm, "expand", 2),
                    ConfigJson.intField(ssm, "headdim", 16));
        } catch (IOException e) {
            throw new IllegalArgumentException("isotropic config is not valid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * {@code transformer-tiny} and {@code mamba-tiny}: hnet-tiny's forward compute per byte within a few percent
     * ({@code ForwardFlops}, 256-byte windows; hnet-tiny at its target of 4 bytes per chunk: 0.44 MFLOP a byte).
     * hnet-tiny runs four Mamba-2 layers at width 64 on every byte (two on each side of its main network) and two
     * Transformer layers at width 96 on about a quarter of them; the baselines run their whole stack on every byte:
     * three Transformer layers at width 72 with an MLP of width 128 (0.44 MFLOP), or six Mamba-2 layers at width 64
     * (0.43). (An MLP's width rounds up to a multiple of 128, so the Transformer's width is what fine-tunes it.)
     */
    public static IsotropicConfig preset(String name) {
        return switch (name) {
            case "transformer-tiny" -> new IsotropicConfig("T3", 72, 128, 4, 8, -1, 16, 4, 2, 16);
            case "mamba-tiny" -> new IsotropicConfig("m6", 64, 0, 4, 8, -1, 16, 4, 2, 16);
            default -> throw new IllegalArgumentException("unknown baseline preset '" + name + "' (known: transformer-tiny, mamba-tiny)");
        };
    }
}
