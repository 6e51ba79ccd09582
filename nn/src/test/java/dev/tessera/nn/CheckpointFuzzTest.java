package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.fail;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged checkpoints, made by mutating good ones at random (a fixed seed, so a failure repeats): every one either
 * loads or is refused with a {@link CheckpointException}; nothing else escapes (no index, cast, size or stack error,
 * no out-of-memory from a length the file lies about). Safetensors files, torch.save zips, and the pickles inside them.
 */
class CheckpointFuzzTest {
    private static final int MUTANTS = Integer.getInteger("fuzz.mutants", 1500);

    @TempDir
    Path dir;

    /** One damage: a few bytes changed, the file cut short, bytes inserted, or a range duplicated. */
    private static byte[] mutate(byte[] good, SplittableRandom r, int hot) {
        byte[] b = good.clone();
        switch (r.nextInt(5)) {
            case 0, 1 -> { // change 1–4 bytes, mostly inside the first `hot` bytes (a header, a pickle's opcodes)
                int changes = 1 + r.nextInt(4);
                for (int i = 0; i < changes; i++) {
                    int at = r.nextInt(4) > 0 ? r.nextInt(Math.min(hot, b.length)) : r.nextInt(b.length);
                    b[at] = (byte) (r.nextBoolean() ? r.nextInt(256) : b[at] ^ (1 << r.nextInt(8)));
                }
            }
            case 2 -> b = java.util.Arrays.copyOf(b, r.nextInt(b.length)); // truncated
            case 3 -> { // bytes inserted
                int at = r.nextInt(b.length + 1), n = 1 + r.nextInt(8);
                byte[] out = new byte[b.length + n];
                System.arraycopy(b, 0, out, 0, at);
                for (int i = 0; i < n; i++) out[at + i] = (byte) r.nextInt(256);
                System.arraycopy(b, at, out, at + n, b.length - at);
                b = out;
            }
            default -> { // a range overwritten by another part of the file (plausible-looking garbage)
                int len = 1 + r.nextInt(Math.min(16, b.length)), from = r.nextInt(b.length - len + 1), to = r.nextInt(b.length - len + 1);
                System.arraycopy(good, from, b, to, len);
            }
        }
        return b;
    }

    private interface Loader {
        void load(Path file) throws Exception;
    }

    private void expectLoadOrRefusal(String what, byte[] content, int mutant, Loader loader) throws IOException {
        Path p = dir.resolve("mutant.bin");
        Files.write(p, content);
        try (Scope s = Scope.open()) {
            loader.load(p);
        } catch (CheckpointException expected) {
            // a clear refusal
        } catch (Throwable t) {
            fail(what + " mutant " + mutant + " (" + content.length + " bytes) escaped as " + t, t);
        }
    }

    @Test
    void damagedSafetensorsLoadOrAreRefused() throws IOException {
        Path good = dir.resolve("good.safetensors");
        try (Scope s = Scope.open()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("encoder.layers.0.mixer.in_proj.weight", Tensor.randn(new Generator(1), 6, 4));
            tensors.put("step", Tensor.of(new long[] {42}, 1));
            tensors.put("half", Tensor.randn(new Generator(2), 3, 2).to(DType.BF16));
            tensors.put("empty", Tensor.zeros(0, 3));
            SafeTensors.write(good, tensors, Map.of("format", "pt", "model", "hnet"));
        }
        byte[] bytes = Files.readAllBytes(good);
        int header = 8 + (int) (bytes[0] & 0xFF | (bytes[1] & 0xFF) << 8);
        SplittableRandom r = new SplittableRandom(Long.getLong("fuzz.seed", 11));
        for (int i = 0; i < MUTANTS; i++) {
            expectLoadOrRefusal("safetensors", mutate(bytes, r, header), i, p -> SafeTensors.read(p));
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = CheckpointFuzzTest.class.getResourceAsStream("/torch/" + name)) {
            return in.readAllBytes();
        }
    }

    /** The entries of a zip, in order. */
    private static Map<String, byte[]> unzip(byte[] zip) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipInputStream z = new ZipInputStream(new java.io.ByteArrayInputStream(zip))) {
            for (ZipEntry e; (e = z.getNextEntry()) != null; ) out.put(e.getName(), z.readAllBytes());
        }
        return out;
    }

    private static byte[] zip(Map<String, byte[]> entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            for (var e : entries.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    @Test
    void damagedTorchZipsLoadOrAreRefused() throws IOException {
        byte[] good = resource("state_dict.pt");
        SplittableRandom r = new SplittableRandom(Long.getLong("fuzz.seed", 12));
        for (int i = 0; i < MUTANTS / 2; i++) {
            expectLoadOrRefusal("torch zip", mutate(good, r, good.length), i, p -> TorchStateDict.read(p));
        }
    }

    /** The zip intact and its pickle damaged: the restricted unpickler and the tensor rebuilding see the damage. */
    @Test
    void damagedPicklesInsideIntactZipsLoadOrAreRefused() throws IOException {
        for (String fixture : new String[] {"state_dict.pt", "state_dict_proto4.pt", "wrapped.pt"}) {
            Map<String, byte[]> entries = unzip(resource(fixture));
            String pickle = entries.keySet().stream().filter(n -> n.endsWith("data.pkl")).findFirst().orElseThrow();
            byte[] good = entries.get(pickle);
            SplittableRandom r = new SplittableRandom(fixture.hashCode() + Long.getLong("fuzz.seed", 0));
            for (int i = 0; i < MUTANTS; i++) {
                Map<String, byte[]> damaged = new LinkedHashMap<>(entries);
                damaged.put(pickle, mutate(good, r, good.length));
                expectLoadOrRefusal(fixture + " pickle", zip(damaged), i, p -> TorchStateDict.read(p));
            }
        }
    }
}
