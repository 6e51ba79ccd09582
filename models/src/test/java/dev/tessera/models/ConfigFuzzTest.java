package dev.tessera.models;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.models.baseline.IsotropicConfig;
import dev.tessera.models.hnet.HNetConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Model configs damaged at random (a fixed seed): a value removed, replaced by another type, a number made negative,
 * zero or huge, an array emptied or lengthened, or the text itself cut or changed. Parsing and validating each either
 * succeeds or refuses it with an {@link IllegalArgumentException} (what the command line prints as one line); nothing
 * else escapes. Only parsing and validation run here, not the model (a damaged width could ask for any size).
 */
class ConfigFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MUTANTS = 3000;

    private static String resource(String path) throws IOException {
        try (InputStream in = ConfigFuzzTest.class.getResourceAsStream(path)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Every node below {@code node} (depth first), with the way to replace or remove it. */
    private static void slots(JsonNode node, List<JsonNode> values, List<Consumer<JsonNode>> replace, List<Runnable> remove) {
        if (node instanceof ObjectNode o) {
            List<String> names = new ArrayList<>();
            o.fieldNames().forEachRemaining(names::add);
            for (String name : names) {
                values.add(o.get(name));
                replace.add(v -> o.set(name, v));
                remove.add(() -> o.remove(name));
                slots(o.get(name), values, replace, remove);
            }
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                int k = i;
                values.add(a.get(i));
                replace.add(v -> a.set(k, v));
                remove.add(() -> a.remove(k));
                slots(a.get(i), values, replace, remove);
            }
        }
    }

    private static JsonNode randomValue(SplittableRandom r) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (r.nextInt(11)) {
            case 0 -> f.nullNode();
            case 1 -> f.textNode(r.nextBoolean() ? "x" : "T2");
            case 2 -> f.numberNode(-1 - r.nextInt(3));
            case 3 -> f.numberNode(0);
            case 4 -> f.numberNode(r.nextBoolean() ? Integer.MAX_VALUE : 1_000_000_007L * 1_000_000_007L);
            case 5 -> f.numberNode(r.nextDouble() * 10);
            case 6 -> f.numberNode(Double.NaN);
            case 7 -> f.arrayNode();
            case 8 -> f.objectNode();
            case 9 -> f.booleanNode(r.nextBoolean());
            default -> f.arrayNode().add(1 + r.nextInt(100)).add(1 + r.nextInt(100)).add(1 + r.nextInt(100));
        };
    }

    private static String mutate(String good, SplittableRandom r) throws IOException {
        if (r.nextInt(6) == 0) { // the text: cut short, or a character changed
            StringBuilder s = new StringBuilder(good);
            if (r.nextBoolean()) return s.substring(0, r.nextInt(s.length()));
            s.setCharAt(r.nextInt(s.length()), "{}[]\",:0-9ax ".charAt(r.nextInt(13)));
            return s.toString();
        }
        JsonNode root = JSON.readTree(good);
        int changes = 1 + r.nextInt(3);
        for (int c = 0; c < changes; c++) {
            List<Consumer<JsonNode>> replace = new ArrayList<>();
            List<Runnable> remove = new ArrayList<>();
            slots(root, new ArrayList<>(), replace, remove);
            if (remove.isEmpty()) break;
            if (r.nextInt(3) == 0) remove.get(r.nextInt(remove.size())).run();
            else replace.get(r.nextInt(replace.size())).accept(randomValue(r));
        }
        return root.toString();
    }

    private static void expectParsedOrRefused(String what, Runnable parse) {
        String escaped = escape(what, parse);
        if (escaped != null) fail(escaped);
    }

    /** Null when {@code parse} succeeds or refuses with an IllegalArgumentException; else what escaped. */
    private static String escape(String what, Runnable parse) {
        try {
            parse.run();
            return null;
        } catch (IllegalArgumentException refused) {
            return null; // one clear line at the command line
        } catch (Throwable t) {
            return what + " escaped as " + t + (t.getStackTrace().length > 0 ? " at " + t.getStackTrace()[0] : "");
        }
    }

    @Test
    void damagedHNetConfigsParseOrAreRefused() throws IOException {
        fuzz("H-Net config", 21, HNetConfig::fromJson, resource("/hnet/configs/hnet_2stage_L.json"), resource("/hnet/configs/hnet_1stage_L.json"),
                HNetConfig.preset("hnet-tiny").toJson(), HNetConfig.preset("hnet-tiny-whitespace").toJson());
    }

    @Test
    void damagedBaselineConfigsParseOrAreRefused() throws IOException {
        fuzz("baseline config", 22, IsotropicConfig::fromJson, IsotropicConfig.preset("transformer-tiny").toJson(),
                IsotropicConfig.preset("mamba-tiny").toJson());
    }

    private static void fuzz(String what, long seed, Consumer<String> parse, String... goods) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < MUTANTS; i++) {
            String json = mutate(goods[i % goods.length], r);
            expectParsedOrRefused(what + " mutant " + i + ": " + json, () -> parse.accept(json));
        }
    }

    /**
     * Every integer of {@code hnet-tiny}'s and the baselines' configs set to 0 and to −1 in turn, then the model built:
     * it builds, or the config is refused with an {@link IllegalArgumentException} naming what is wrong.
     */
    @Test
    void zeroAndNegativeSizesBuildOrAreRefused() throws IOException {
        List<String> escapes = new ArrayList<>();
        List<String[]> goods = List.of(new String[] {"hnet", HNetConfig.preset("hnet-tiny").toJson()},
                new String[] {"isotropic", IsotropicConfig.preset("transformer-tiny").toJson()},
                new String[] {"isotropic", IsotropicConfig.preset("mamba-tiny").toJson()});
        for (String[] good : goods) {
            List<JsonNode> values = new ArrayList<>();
            slots(JSON.readTree(good[1]), values, new ArrayList<>(), new ArrayList<>());
            for (int i = 0; i < values.size(); i++) {
                if (!values.get(i).isIntegralNumber()) continue;
                for (int bad : new int[] {0, -1}) {
                    JsonNode copy = JSON.readTree(good[1]);
                    List<Consumer<JsonNode>> replace = new ArrayList<>();
                    slots(copy, new ArrayList<>(), replace, new ArrayList<>());
                    replace.get(i).accept(JsonNodeFactory.instance.numberNode(bad));
                    String json = copy.toString();
                    String escaped = escape(good[0] + " with " + bad + ": " + json, () -> {
                        try (ByteLanguageModel m = ModelCatalog.fromConfig(good[0], json, new dev.tessera.runtime.Generator(1))) {
                            m.parameterCount();
                        }
                    });
                    if (escaped != null) escapes.add(escaped);
                }
            }
        }
        org.junit.jupiter.api.Assertions.assertTrue(escapes.isEmpty(), escapes.size() + " escaped:\n" + String.join("\n", escapes));
    }
}
