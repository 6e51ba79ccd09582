package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SafeTensorsTest {
    @TempDir
    Path dir;

    private Path fixture() throws IOException {
        Path p = dir.resolve("python_written.safetensors");
        try (var in = SafeTensorsTest.class.getResourceAsStream("/safetensors/python_written.safetensors")) {
            Files.copy(in, p);
        }
        return p;
    }

    @Test
    void readsAFileWrittenByPythonWithEveryDtype() throws IOException {
        try (Scope s = Scope.open(); SafeTensors.Reader r = SafeTensors.open(fixture())) {
            assertEquals("pt", r.metadata().get("format"));
            assertArrayEquals(new float[] {-1, -0.5f, 0, 0.5f, 1, 1.5f}, r.load("a.f32").toFloatArray());
            assertArrayEquals(new int[] {2, 3}, r.load("a.f32").shape());
            assertArrayEquals(new double[] {1e-300, -2.5, 3.25, Math.PI}, r.load("b.f64").toDoubleArray());
            assertArrayEquals(new float[] {1, -0.5f, 65504}, r.load("c.f16").toFloatArray());
            float[] bf = r.load("d.bf16").toFloatArray();
            assertEquals(1.5f, bf[0]);
            assertEquals(-3f, bf[1]);
            assertEquals(0.1f, bf[2], 0.001f); // 0.1 rounds to 0.10009765625 in bfloat16
            assertArrayEquals(new long[] {1L << 40, -7}, r.load("e.i64").toLongArray());
            assertArrayEquals(new long[] {1, -2, 3, Integer.MAX_VALUE}, r.load("f.i32").toLongArray());
            assertArrayEquals(new long[] {0, 1, 200, 255}, r.load("g.u8").toLongArray());
            assertArrayEquals(new long[] {1, 0, 1}, r.load("h.bool").toLongArray());
            assertEquals(DType.BOOL, r.load("h.bool").dtype());
            assertEquals(7.0, r.load("i.scalar").item());
            assertEquals(0, r.load("i.scalar").dim());
            assertArrayEquals(new int[] {0, 3}, r.load("j.empty").shape());
        }
    }

    @Test
    void roundTripsEveryDtypeAndMetadata() {
        Path p = dir.resolve("rt.safetensors");
        try (Scope s = Scope.open()) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            in.put("x", Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2).t()); // non-contiguous source
            in.put("y", Tensor.of(new double[] {1.25, -2}, 2));
            in.put("z", Tensor.of(new float[] {0.5f, -8}, 2).to(DType.BF16));
            in.put("w", Tensor.of(new float[] {0.5f, -8}, 2).to(DType.F16));
            in.put("i", Tensor.of(new long[] {5, -6}, 2));
            in.put("j", Tensor.of(new int[] {7}, 1));
            in.put("u", Tensor.ofBytes(new byte[] {(byte) 250}, 1));
            in.put("b", Tensor.of(new boolean[] {true, false}, 2));
            SafeTensors.write(p, in, Map.of("step", "12"));
            try (SafeTensors.Reader r = SafeTensors.open(p)) {
                assertEquals("12", r.metadata().get("step"));
                for (var e : in.entrySet()) {
                    Tensor back = r.load(e.getKey());
                    assertEquals(e.getValue().dtype(), back.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), back.shape(), e.getKey());
                    assertArrayEquals(e.getValue().toDoubleArray(), back.toDoubleArray(), e.getKey());
                }
            }
        }
    }

    @Test
    void writtenHeaderFollowsTheFormat() throws IOException {
        Path p = dir.resolve("fmt.safetensors");
        try (Scope s = Scope.open()) {
            SafeTensors.write(p, Map.of("t", Tensor.ones(3)), Map.of());
        }
        byte[] b = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "the data section is 8-byte aligned");
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8).strip();
        assertEquals("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", header);
        assertEquals(8 + n + 12, b.length);
    }

    @Test
    void aFailedWriteLeavesThePreviousCheckpointIntact() throws IOException {
        Path p = dir.resolve("ckpt.safetensors");
        try (Scope s = Scope.open()) {
            SafeTensors.write(p, Map.of("w", Tensor.of(new float[] {1, 2}, 2)), Map.of());
        }
        byte[] before = Files.readAllBytes(p);
        Tensor released = Tensor.ones(4);
        released.close();
        Map<String, Tensor> bad = new LinkedHashMap<>();
        try (Scope s = Scope.open()) {
            bad.put("ok", Tensor.ones(2));
            bad.put("gone", released);
            assertThrows(IllegalStateException.class, () -> SafeTensors.write(p, bad, Map.of()));
        }
        assertArrayEquals(before, Files.readAllBytes(p), "the old file is untouched");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary file is left behind");
        }
    }

    /** A header (as text) followed by {@code dataBytes} zero bytes; {@code lengthOverride} replaces the stored length. */
    private static byte[] file(String header, int dataBytes, Long lengthOverride) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(lengthOverride != null ? lengthOverride : h.length).put(h);
        return b.array();
    }

    static Stream<Arguments> corruptFiles() {
        String ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        return Stream.of(
                Arguments.of("empty file", new byte[0], "truncated"),
                Arguments.of("only 5 bytes", new byte[5], "truncated"),
                Arguments.of("header length beyond the file", file(ok, 8, 10_000L), "bad header length"),
                Arguments.of("negative header length", file(ok, 8, -5L), "bad header length"),
                Arguments.of("header not JSON", file("{\"w\": [1, 2", 8, null), "not valid JSON"),
                Arguments.of("header an array", file("[1, 2, 3]", 8, null), "not a JSON object"),
                Arguments.of("missing dtype", file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, null), "'w': missing dtype"),
                Arguments.of("unknown dtype", file("{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, null),
                        "'w': unsupported dtype Q7"),
                Arguments.of("negative dimension", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, null),
                        "'w': bad dimension"),
                Arguments.of("missing offsets", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, null), "'w': data_offsets"),
                Arguments.of("offsets past the data (truncated file)", file(ok, 4, null), "'w': data_offsets [0, 8] out of range"),
                Arguments.of("byte count does not match the shape",
                        file("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, null), "'w': 8 data bytes for shape"),
                Arguments.of("overlapping tensors", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, null), "overlap"),
                Arguments.of("metadata not strings", file("{\"__metadata__\":{\"step\":3}}", 0, null), "__metadata__ value of 'step'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptFiles")
    void corruptFilesThrowAClearErrorNamingTheFile(String what, byte[] content, String expected) throws IOException {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, content);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(p), what);
        assertTrue(e.getMessage().contains(p.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), "says what is wrong (" + expected + "): " + e.getMessage());
    }

    @Test
    void aMissingFileIsACheckpointError() {
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(dir.resolve("none.safetensors")));
        assertTrue(e.getMessage().contains("none.safetensors"));
        assertFalse(e.getMessage().isBlank());
    }
}
