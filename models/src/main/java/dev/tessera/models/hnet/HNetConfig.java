package dev.tessera.models.hnet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.models.ConfigJson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An H-Net configuration in the reference implementation's JSON format ({@code arch_layout}, {@code d_model},
 * {@code d_intermediate}, {@code ssm_cfg}, {@code attn_cfg}, {@code vocab_size}, {@code tie_embeddings}), plus the
 * training-only target compression ratio N per stage (hnet.md §1.2; 1-stage N₀ = 6, 2-stage N₀ = N₁ = 3), and
 * how the outermost stage places its boundaries ({@code "routing"}: {@code "learned"}, the default, or
 * {@code "whitespace"}, a fixed rule in the spirit of the paper's H-Net (space) ablation; see {@link Boundaries}).
 *
 * <p>{@code layout} holds, per stage, {@code [encoder, decoder]} layout strings, and the innermost main network's.
 */
public record HNetConfig(List<String[]> stageLayouts, String innerLayout, int[] dModel, int[] dIntermediate,
                         int dState, int dConv, int expand, int headDim, int[] numHeads, int[] rotaryDim, int[] window,
                         int vocabSize, boolean tieEmbeddings, double[] targetRatio, Boundaries routing) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Where the outermost stage's chunks start. {@code LEARNED}: the routing module decides (the H-Net). {@code
     * WHITESPACE}: a chunk starts at every whitespace byte (and at position 0), with no routing gradient and no ratio
     * loss for that stage; inner stages always learn. It is the yardstick for what learned chunking should find.
     */
    public enum Boundaries {
        LEARNED, WHITESPACE;

        String jsonName() { return name().toLowerCase(java.util.Locale.ROOT); }

        static Boundaries fromJson(String s) {
            for (Boundaries b : values()) if (b.jsonName().equals(s)) return b;
            throw new IllegalArgumentException("routing: expected \"learned\" or \"whitespace\", got \"" + s + "\"");
        }
    }

    public HNetConfig {
        int stages = stageLayouts.size();
        if (dModel.length != stages + 1 || dIntermediate.length != stages + 1 || numHeads.length != stages + 1
                || rotaryDim.length != stages + 1 || window.length != stages + 1) {
            throw new IllegalArgumentException("H-Net config: " + (stages + 1) + " networks need as many d_model, d_intermediate, num_heads, "
                    + "rotary_emb_dim and window_size entries");
        }
        java.util.Objects.requireNonNull(routing, "routing");
        if (routing == Boundaries.WHITESPACE && stages == 0) {
            throw new IllegalArgumentException("H-Net config: routing \"whitespace\" needs at least one stage to route");
        }
        if (targetRatio.length != stages) throw new IllegalArgumentException("H-Net config: one target ratio per stage, got " + targetRatio.length);
        for (int s = 1; s <= stages; s++) {
            if (dModel[s] < dModel[s - 1]) throw new IllegalArgumentException("H-Net config: d_model must not shrink inwards: " + java.util.Arrays.toString(dModel));
        }
        if (vocabSize != 256) throw new IllegalArgumentException("H-Net config: byte models have vocab_size 256, got " + vocabSize);
        // HNetLM always builds its own lm_head; accepting "true" would silently train an untied model and make a tied
        // checkpoint fail to load with a confusing missing-key error, so refuse it here with the reason.
        if (tieEmbeddings) throw new IllegalArgumentException("H-Net config: tie_embeddings = true is not supported (the reference configs use false)");
    }

    /** Number of routing stages (1 for a 1-stage H-Net). */
    public int stages() { return stageLayouts.size(); }

    /** Parses the reference JSON (target ratios default to the paper's: 6 for one stage, 3 each for two or more). */
    public static HNetConfig fromJson(String json) {
        try {
            JsonNode root = JSON.readTree(json);
            List<String[]> stageLayouts = new ArrayList<>();
            ConfigJson.object(root, "H-Net config");
            JsonNode layout = root.required("arch_layout");
            while (layout.isArray() && layout.size() == 3) {
                stageLayouts.add(new String[] {ConfigJson.text(layout.get(0), "arch_layout"), ConfigJson.text(layout.get(2), "arch_layout")});
                layout = layout.get(1);
            }
            if (!layout.isArray() || layout.size() != 1) throw new IllegalArgumentException("arch_layout: expected [enc, inner, dec] nesting ending in [main]");
            String inner = ConfigJson.text(layout.get(0), "arch_layout");
            int n = stageLayouts.size() + 1;
            JsonNode ssm = ConfigJson.section(root, "ssm_cfg"), attn = ConfigJson.section(root, "attn_cfg");
            double[] ratios = new double[n - 1];
            JsonNode given = root.get("target_ratio");
            if (given != null && !given.isNull() && !(given.isArray() && given.size() == n - 1)) {
                throw new IllegalArgumentException("target_ratio: expected " + (n - 1) + " entries, got " + given);
            }
            for (int s = 0; s < n - 1; s++) {
                if (given == null || given.isNull()) {
                    ratios[s] = n - 1 == 1 ? 6 : 3;
                } else if (given.get(s).isNumber()) {
                    ratios[s] = given.get(s).doubleValue();
                } else {
                    throw new IllegalArgumentException("target_ratio: expected numbers, got " + given);
                }
            }
            JsonNode tie = root.get("tie_embeddings"), routing = root.get("routing");
            if (tie != null && !tie.isBoolean()) throw new IllegalArgumentException("tie_embeddings: expected true or false, got " + tie);
            return new HNetConfig(stageLayouts, inner, ConfigJson.ints(root.required("d_model"), n, "d_model"),
                    ConfigJson.ints(root.required("d_intermediate"), n, "d_intermediate"),
                    ConfigJson.intField(ssm, "d_state", 128), ConfigJson.intField(ssm, "d_conv", 4), ConfigJson.intField(ssm, "expand", 2),
                    ConfigJson.intField(ssm, "headdim", 64), ConfigJson.ints(attn.required("num_heads"), n, "num_heads"),
                    ConfigJson.ints(attn.required("rotary_emb_dim"), n, "rotary_emb_dim"),
                    ConfigJson.ints(attn.required("window_size"), n, "window_size"), ConfigJson.intField(root, "vocab_size", 256),
                    tie != null && tie.booleanValue(), ratios, Boundaries.fromJson(routing == null ? "learned" : ConfigJson.text(routing, "routing")));
        } catch (IOException e) {
            throw new IllegalArgumentException("H-Net config is not valid JSON: " + e.getMessage(), e);
        }
    }

    public static HNetConfig fromFile(Path file) {
        try {
            return fromJson(Files.readString(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read H-Net config " + file + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }



    /** The reference JSON (with our {@code target_ratio} and {@code headdim} added, and {@code routing} unless learned). */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode inner = JSON.createArrayNode().add(innerLayout);
        for (int s = stages() - 1; s >= 0; s--) {
            inner = JSON.createArrayNode().add(stageLayouts.get(s)[0]).add(inner).add(stageLayouts.get(s)[1]);
        }
        root.set("arch_layout", inner);
        root.set("d_model", arr(dModel));
        root.set("d_intermediate", arr(dIntermediate));
        root.put("vocab_size", vocabSize);
        ObjectNode ssm = root.putObject("ssm_cfg");
        ssm.put("chunk_size", 256).put("d_conv", dConv).put("d_state", dState).put("expand", expand).put("headdim", headDim);
        ObjectNode attn = root.putObject("attn_cfg");
        attn.set("num_heads", arr(numHeads));
        attn.set("rotary_emb_dim", arr(rotaryDim));
        attn.set("window_size", arr(window));
        root.put("tie_embeddings", tieEmbeddings);
        ArrayNode r = root.putArray("target_ratio");
        for (double v : targetRatio) r.add(v);
        if (routing != Boundaries.LEARNED) root.put("routing", routing.jsonName());
        return root.toString();
    }

    private static ArrayNode arr(int[] v) {
        ArrayNode a = JSON.createArrayNode();
        for (int x : v) a.add(x);
        return a;
    }

    /**
     * The number of parameters of the model this config describes, computed from the config alone (nothing is
     * allocated), so the size of a reference config (hnet.md §1.2: 1stage_XL ≈ 1.27 B) is known without building it.
     * Per component, with D the width of the network a layer lies in (Mamba-2: d_inner = expand·D, H = d_inner/headdim
     * heads, G = 1 group, N = d_state, conv_dim = d_inner + 2·G·N):
     * <ul>
     * <li>Mamba-2 layer ({@code m}): pre-norm D + in_proj D·(2·d_inner + 2·G·N + H) + conv1d conv_dim·d_conv weights
     *     and conv_dim biases + dt_bias, A_log, D: 3·H + gated norm d_inner + out_proj d_inner·D;</li>
     * <li>attention layer ({@code t}): pre-norm D + Wqkv 3·D² + out_proj D² (no biases);</li>
     * <li>upper-case layers ({@code M}, {@code T}) add norm2 D + SwiGLU fc1 2F·D + fc2 F·D, F = d_intermediate rounded
     *     up to a multiple of 128;</li>
     * <li>each isotropic stack (encoder, decoder, innermost main network) ends in an RMSNorm: D;</li>
     * <li>each non-innermost stage s: routing W_q, W_k 2·D_s² + residual_proj D_s² + D_s (weight and bias);</li>
     * <li>each stage s wider than its input: the pad vector D_s − D_{s−1};</li>
     * <li>embeddings 256·D₀ and the untied lm_head 256·D₀ (no bias).</li>
     * </ul>
     */
    public long parameterCount() {
        long n = 2L * vocabSize * dModel[0]; // embeddings + lm_head
        for (int s = 0; s <= stages(); s++) {
            long d = dModel[s];
            if (s > 0 && dModel[s] > dModel[s - 1]) n += dModel[s] - dModel[s - 1];
            if (s == stages()) {
                n += stackParameters(innerLayout, s);
            } else {
                n += stackParameters(stageLayouts.get(s)[0], s) + stackParameters(stageLayouts.get(s)[1], s);
                n += 2 * d * d + d * d + d;
            }
        }
        return n;
    }

    /** Parameters of one isotropic stack at stage s: its layers (see {@link #parameterCount()}) and its final RMSNorm. */
    private long stackParameters(String layout, int s) {
        long d = dModel[s], f = (dIntermediate[s] + 127L) / 128 * 128;
        long dInner = (long) expand * d, heads = dInner / headDim, groupsTimesState = dState, convDim = dInner + 2 * groupsTimesState;
        long mamba = d + d * (2 * dInner + 2 * groupsTimesState + heads) + convDim * dConv + convDim + 3 * heads + dInner + dInner * d;
        long attention = d + 3 * d * d + d * d;
        long mlp = d + 2 * f * d + f * d;
        long n = d; // the stack's final rmsnorm
        for (char c : dev.tessera.nn.Isotropic.parse(layout)) {
            n += Character.toLowerCase(c) == 'm' ? mamba : attention;
            if (Character.isUpperCase(c)) n += mlp;
        }
        return n;
    }

    /**
     * Built-in presets: {@code hnet-tiny} and {@code hnet-2stage-tiny} train in minutes on 2 CPU cores. hnet-tiny has
     * two Mamba layers on each side of its main network: in 5 minutes on 2 cores of Tiny Shakespeare that reached
     * 2.16 held-out bits per byte against 2.23 with one (fewer, slower steps, but a better model).
     * {@code hnet-tiny-whitespace} is hnet-tiny with its chunks starting at whitespace instead of where the router says.
     */
    public static HNetConfig preset(String name) {
        return switch (name) {
            case "hnet-tiny" -> fromJson("""
                    {"arch_layout": ["m2", ["T2"], "m2"], "d_model": [64, 96], "d_intermediate": [0, 192], "vocab_size": 256,
                     "ssm_cfg": {"d_state": 16, "d_conv": 4, "expand": 2, "headdim": 16},
                     "attn_cfg": {"num_heads": [4, 4], "rotary_emb_dim": [8, 12], "window_size": [63, -1]}, "target_ratio": [4]}""");
            case "hnet-tiny-whitespace" -> {
                HNetConfig c = preset("hnet-tiny");
                yield new HNetConfig(c.stageLayouts, c.innerLayout, c.dModel, c.dIntermediate, c.dState, c.dConv, c.expand, c.headDim,
                        c.numHeads, c.rotaryDim, c.window, c.vocabSize, c.tieEmbeddings, c.targetRatio, Boundaries.WHITESPACE);
            }
            case "hnet-2stage-tiny" -> fromJson("""
                    {"arch_layout": ["m1", ["m1", ["T2"], "m1"], "m1"], "d_model": [64, 96, 128], "d_intermediate": [0, 0, 256],
                     "vocab_size": 256, "ssm_cfg": {"d_state": 16, "d_conv": 4, "expand": 2, "headdim": 16},
                     "attn_cfg": {"num_heads": [4, 4, 4], "rotary_emb_dim": [8, 12, 16], "window_size": [63, 63, -1]}, "target_ratio": [3, 3]}""");
            case "hnet-small" -> fromJson("""
                    {"arch_layout": ["m2", ["T6"], "m2"], "d_model": [256, 384], "d_intermediate": [0, 1024], "vocab_size": 256,
                     "ssm_cfg": {"d_state": 64, "d_conv": 4, "expand": 2, "headdim": 64},
                     "attn_cfg": {"num_heads": [8, 8], "rotary_emb_dim": [16, 24], "window_size": [511, -1]}, "target_ratio": [6]}""");
            case "hnet-1stage-L" -> fromJson("""
                    {"arch_layout": ["m4", ["T22"], "m4"], "d_model": [1024, 1536], "d_intermediate": [0, 4096], "vocab_size": 256,
                     "ssm_cfg": {"chunk_size": 256, "d_conv": 4, "d_state": 128, "expand": 2},
                     "attn_cfg": {"num_heads": [16, 16], "rotary_emb_dim": [32, 48], "window_size": [1023, -1]}, "tie_embeddings": false}""");
            default -> throw new IllegalArgumentException("unknown preset '" + name + "' (known: hnet-tiny, hnet-tiny-whitespace, hnet-2stage-tiny, hnet-small, hnet-1stage-L)");
        };
    }
}
