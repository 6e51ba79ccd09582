package dev.tessera.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/**
 * Strict reads of a model config's JSON values: a number where an integer belongs ({@code 2.5}, {@code "4"},
 * {@code true}, 2⁴⁰) is refused with the key's name instead of being read as something else, as Jackson's lenient
 * {@code asInt} would (0 for a string, the truncation for a fraction).
 */
public final class ConfigJson {
    private ConfigJson() {}

    /** An integer that fits an int. */
    public static int integer(JsonNode v, String name) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) throw new IllegalArgumentException(name + ": expected an integer, got " + v);
        return v.intValue();
    }

    /** {@code parent.key} as an integer, or {@code absent} when it is not given (or null). */
    public static int intField(JsonNode parent, String key, int absent) {
        JsonNode v = parent.get(key);
        return v == null || v.isNull() ? absent : integer(v, key);
    }

    /** An array of exactly {@code n} integers. */
    public static int[] ints(JsonNode a, int n, String name) {
        if (a == null || !a.isArray() || a.size() != n) throw new IllegalArgumentException(name + ": expected " + n + " entries, got " + a);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = integer(a.get(i), name);
        return out;
    }

    /** A string. */
    public static String text(JsonNode v, String name) {
        if (v == null || !v.isTextual()) throw new IllegalArgumentException(name + ": expected a string, got " + v);
        return v.textValue();
    }

    /** An optional object ({@code ssm_cfg}, {@code attn_cfg}): an empty one when absent or null. */
    public static JsonNode section(JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return JsonNodeFactory.instance.objectNode();
        if (!v.isObject()) throw new IllegalArgumentException(key + ": expected an object, got " + v);
        return v;
    }

    /** The root of a config: a JSON object. */
    public static JsonNode object(JsonNode root, String what) {
        if (root == null || !root.isObject()) throw new IllegalArgumentException(what + ": expected a JSON object");
        return root;
    }
}
