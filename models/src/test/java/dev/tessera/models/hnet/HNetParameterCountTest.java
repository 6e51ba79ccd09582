package dev.tessera.models.hnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.runtime.Generator;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link HNetConfig#parameterCount()} is computed from the config alone; it must agree with the parameters an
 * instantiated model really has, and with the sizes hnet.md §1.2 gives for the six reference configs (far too large
 * to build in a test, which is why the count is analytic).
 */
class HNetParameterCountTest {
    private static long instantiated(HNetConfig c) {
        try (HNetLM m = new HNetLM(c, new Generator(0))) {
            return m.parameterCount();
        }
    }

    @Test
    void presetsMatchTheInstantiatedModel() {
        for (String p : new String[] {"hnet-tiny", "hnet-2stage-tiny"}) {
            HNetConfig c = HNetConfig.preset(p);
            assertEquals(instantiated(c), c.parameterCount(), p);
        }
    }

    /** Random small configs: 1–2 stages, random layouts of all four layer kinds, widths that may or may not grow. */
    @Test
    void randomSmallConfigsMatchTheInstantiatedModel() {
        Random rnd = new Random(12345);
        String kinds = "mMtT";
        for (int trial = 0; trial < 8; trial++) {
            int stages = 1 + rnd.nextInt(2), n = stages + 1;
            int[] d = new int[n];
            d[0] = 8 * (1 + rnd.nextInt(3));
            for (int s = 1; s < n; s++) d[s] = d[s - 1] + 8 * rnd.nextInt(2); // equal widths: no pad_dimension
            String[] layouts = new String[2 * stages + 1];
            for (int i = 0; i < layouts.length; i++) {
                StringBuilder sb = new StringBuilder();
                for (int k = 0, parts = 1 + rnd.nextInt(2); k < parts; k++) sb.append(kinds.charAt(rnd.nextInt(4))).append(1 + rnd.nextInt(2));
                layouts[i] = sb.toString();
            }
            String arch = "[\"" + layouts[2 * stages] + "\"]";
            for (int s = stages - 1; s >= 0; s--) arch = "[\"" + layouts[2 * s] + "\", " + arch + ", \"" + layouts[2 * s + 1] + "\"]";
            StringBuilder di = new StringBuilder(), heads = new StringBuilder(), rot = new StringBuilder(), win = new StringBuilder();
            for (int s = 0; s < n; s++) {
                String sep = s == 0 ? "" : ", ";
                di.append(sep).append(16 + rnd.nextInt(200)); // rounds up to 128 or 256
                heads.append(sep).append(2);
                rot.append(sep).append(4);
                win.append(sep).append(s == n - 1 ? -1 : 7);
            }
            String json = String.format(Locale.ROOT, """
                    {"arch_layout": %s, "d_model": %s, "d_intermediate": [%s], "vocab_size": 256,
                     "ssm_cfg": {"d_state": %d, "d_conv": 4, "expand": 2, "headdim": 8},
                     "attn_cfg": {"num_heads": [%s], "rotary_emb_dim": [%s], "window_size": [%s]}}""",
                    arch, java.util.Arrays.toString(d), di, 4 + 4 * rnd.nextInt(3), heads, rot, win);
            HNetConfig c = HNetConfig.fromJson(json);
            assertEquals(instantiated(c), c.parameterCount(), json);
        }
    }

    private static Path config(String name) throws URISyntaxException {
        return Path.of(HNetParameterCountTest.class.getResource("/hnet/configs/hnet_" + name + ".json").toURI());
    }

    /** The six reference configs in the reference JSON format, against the "our count" column of hnet.md §1.2. */
    @Test
    void referenceConfigsMatchTheSpecTable() throws URISyntaxException {
        String[] names = {"1stage_L", "1stage_XL", "2stage_L", "2stage_XL", "2stage_XL_chinese", "2stage_XL_code"};
        double[] millions = {679.4, 1270.8, 874.3, 1603.5, 1755.3, 1654.1};
        for (int i = 0; i < names.length; i++) {
            HNetConfig c = HNetConfig.fromFile(config(names[i]));
            assertEquals(names[i].startsWith("1") ? 1 : 2, c.stages(), names[i]);
            assertEquals(millions[i], Math.round(c.parameterCount() / 1e5) / 10.0, 1e-9, names[i] + ": " + c.parameterCount());
        }
        assertEquals(679_405_312L, HNetConfig.fromFile(config("1stage_L")).parameterCount());
    }

    @Test
    void tiedEmbeddingsAreRefusedRatherThanSilentlyUntied() {
        String json = HNetConfig.preset("hnet-tiny").toJson().replace("\"tie_embeddings\":false", "\"tie_embeddings\":true");
        assertThrows(IllegalArgumentException.class, () -> HNetConfig.fromJson(json));
    }
}
