package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.DType;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TorchStateDict against fixtures written by src/test/resources/torch/make_pt_fixtures.py (the torch.save
 * layout built with zipfile + pickle, no torch) and against hand-made pickles for the refusals.
 */
class TorchStateDictTest {
    @TempDir
    Path dir;

    private Path fixture(String name) throws IOException {
        Path p = dir.resolve(name);
        try (InputStream in = TorchStateDictTest.class.getResourceAsStream("/torch/" + name)) {
            Files.copy(in, p);
        }
        return p;
    }

    /** A torch.save-shaped zip around a hand-written pickle. */
    private Path zipWith(String name, byte[] pickle) throws IOException {
        Path p = dir.resolve(name);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(p))) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pickle);
            z.closeEntry();
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes());
            z.closeEntry();
        }
        return p;
    }

    private static byte[] bytes(int... b) {
        byte[] r = new byte[b.length];
        for (int i = 0; i < b.length; i++) r[i] = (byte) b[i];
        return r;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }

    @ParameterizedTest
    @ValueSource(strings = {"state_dict.pt", "state_dict_proto4.pt"})
    void readsEveryDtypeViewAndOffsetExactly(String name) throws IOException {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> sd = TorchStateDict.read(fixture(name));
            assertEquals(List.of("linear.weight", "linear.weight_t", "linear.bias", "view.strided3d", "f64", "half", "bf16",
                    "steps", "i32", "u8", "mask", "scalar", "empty", "param"), List.copyOf(sd.keySet()));

            Tensor w = sd.get("linear.weight");
            assertEquals(DType.F32, w.dtype());
            assertArrayEquals(new int[] {2, 3}, w.shape());
            assertArrayEquals(new float[] {-1, -0.5f, 0, 0.5f, 1, 1.5f}, w.toFloatArray());
            // the transposed view shares storage 0 in the file; it comes back as its own contiguous copy
            Tensor wt = sd.get("linear.weight_t");
            assertArrayEquals(new int[] {3, 2}, wt.shape());
            assertTrue(wt.isContiguous());
            assertFalse(wt.sharesStorageWith(w));
            assertArrayEquals(new float[] {-1, 0.5f, -0.5f, 1, 0, 1.5f}, wt.toFloatArray());
            assertArrayEquals(new float[] {12, 13, 14}, sd.get("linear.bias").toFloatArray()); // storage offset 2
            // offset 1, size (2,3,2), strides (1,10,4) over 0..29: element [i][j][k] = 1 + i + 10j + 4k
            Tensor v = sd.get("view.strided3d");
            assertArrayEquals(new int[] {2, 3, 2}, v.shape());
            assertArrayEquals(new float[] {1, 5, 11, 15, 21, 25, 2, 6, 12, 16, 22, 26}, v.toFloatArray());

            assertEquals(DType.F64, sd.get("f64").dtype());
            assertArrayEquals(new double[] {1e-300, -2.5, 3.25, Math.PI}, sd.get("f64").toDoubleArray());
            assertEquals(DType.F16, sd.get("half").dtype());
            assertArrayEquals(new float[] {1, -0.5f, 65504, 0x1p-24f}, sd.get("half").toFloatArray());
            assertEquals(DType.BF16, sd.get("bf16").dtype());
            assertArrayEquals(new float[] {1.5f, -3f, 0.10009765625f}, sd.get("bf16").toFloatArray()); // 0.1 rounded to bf16
            assertEquals(DType.I64, sd.get("steps").dtype());
            assertArrayEquals(new long[] {1L << 40, -7}, sd.get("steps").toLongArray());
            assertEquals(DType.I32, sd.get("i32").dtype());
            assertArrayEquals(new int[] {2, 2}, sd.get("i32").shape());
            assertArrayEquals(new long[] {1, -2, 3, Integer.MAX_VALUE}, sd.get("i32").toLongArray());
            assertEquals(DType.U8, sd.get("u8").dtype());
            assertArrayEquals(new long[] {0, 1, 200, 255}, sd.get("u8").toLongArray());
            assertEquals(DType.BOOL, sd.get("mask").dtype());
            assertArrayEquals(new long[] {1, 0, 1}, sd.get("mask").toLongArray());
            assertEquals(0, sd.get("scalar").dim());
            assertEquals(7.0, sd.get("scalar").item());
            assertArrayEquals(new int[] {0, 3}, sd.get("empty").shape());
            assertArrayEquals(new float[] {0.25f, -4}, sd.get("param").toFloatArray()); // nn.Parameter -> its data
        }
    }

    @Test
    void unwrapsACheckpointHoldingTheStateDictUnderModel() throws IOException {
        try (Scope s = Scope.open()) {
            Map<String, Tensor> sd = TorchStateDict.read(fixture("wrapped.pt"));
            assertEquals(List.of("w"), List.copyOf(sd.keySet()));
            assertArrayEquals(new float[] {1, 2}, sd.get("w").toFloatArray());
        }
    }

    @Test
    void readsSafetensorsThroughTheSameEntryPoint() throws IOException {
        Path p = dir.resolve("python_written.safetensors");
        try (InputStream in = TorchStateDictTest.class.getResourceAsStream("/safetensors/python_written.safetensors")) {
            Files.copy(in, p);
        }
        try (Scope s = Scope.open()) {
            Map<String, Tensor> sd = TorchStateDict.read(p);
            assertArrayEquals(new float[] {-1, -0.5f, 0, 0.5f, 1, 1.5f}, sd.get("a.f32").toFloatArray());
            assertEquals(DType.BOOL, sd.get("h.bool").dtype());
        }
    }

    @Test
    void refusesOsSystemWithoutRunningIt() throws IOException {
        Path marker = Path.of("/tmp/tessera-pt-pwned");
        boolean existedBefore = Files.exists(marker);
        Path p = fixture("os_system.pt");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchStateDict.read(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("refused global os.system"), e.getMessage());
        assertTrue(e.getMessage().contains("never runs code"), e.getMessage());
        if (!existedBefore) assertFalse(Files.exists(marker), "the pickle's command ran");
    }

    @Test
    void refusesBuiltinsEvalViaStackGlobal() throws IOException {
        Path p = fixture("builtins_eval.pt");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchStateDict.read(p));
        assertTrue(e.getMessage().contains("refused global builtins.eval"), e.getMessage());
        assertTrue(e.getMessage().contains("archive/data.pkl"), e.getMessage());
    }

    @Test
    void refusesAStorageTypeTesseraLacksNamingTheTensor() throws IOException {
        Path p = fixture("unsupported_dtype.pt");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchStateDict.read(p));
        assertTrue(e.getMessage().contains("tensor 'shorts'"), e.getMessage());
        assertTrue(e.getMessage().contains("torch.ShortStorage"), e.getMessage());
    }

    @Test
    void refusesAViewOutsideItsStorage() throws IOException {
        Path p = fixture("out_of_bounds.pt");
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchStateDict.read(p));
        assertTrue(e.getMessage().contains("tensor 'too_big'"), e.getMessage());
        assertTrue(e.getMessage().contains("reaches element 4 but storage 0 holds 4"), e.getMessage());
    }

    @Test
    void reportsTruncatedAndCorruptFiles() throws IOException {
        Path zip = fixture("truncated.pt");
        CheckpointException a = assertThrows(CheckpointException.class, () -> TorchStateDict.read(zip));
        assertTrue(a.getMessage().startsWith(zip + ": not a readable zip archive"), a.getMessage());

        Path pkl = fixture("corrupt_pickle.pt");
        CheckpointException b = assertThrows(CheckpointException.class, () -> TorchStateDict.read(pkl));
        assertTrue(b.getMessage().contains("truncated"), b.getMessage());

        Path missing = fixture("missing_record.pt");
        CheckpointException c = assertThrows(CheckpointException.class, () -> TorchStateDict.read(missing));
        assertTrue(c.getMessage().contains("tensor 'linear.bias': storage record archive/data/1 is missing"), c.getMessage());
    }

    @Test
    void opensForLoadingOneTensorAtATime() throws IOException {
        Path p = fixture("state_dict.pt");
        try (Scope s = Scope.open(); TensorSource source = TorchStateDict.open(p)) {
            Map<String, Tensor> all = TorchStateDict.read(p);
            assertEquals(List.copyOf(all.keySet()), List.copyOf(source.shapes().keySet()), "the same names in file order");
            for (var e : all.entrySet()) {
                assertArrayEquals(e.getValue().shape(), source.shapes().get(e.getKey()), e.getKey());
                try (Tensor t = source.load(e.getKey())) {
                    assertEquals(e.getValue().dtype(), t.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().to(DType.F64).toDoubleArray(), t.to(DType.F64).toDoubleArray(), e.getKey());
                }
            }
            CheckpointException unknown = assertThrows(CheckpointException.class, () -> source.load("no.such.tensor"));
            assertTrue(unknown.getMessage().contains("no tensor named 'no.such.tensor'"), unknown.getMessage());
        }
        // descriptions are checked when the file is opened; a storage only when its tensor is loaded
        CheckpointException type = assertThrows(CheckpointException.class, () -> TorchStateDict.open(fixture("unsupported_dtype.pt")));
        assertTrue(type.getMessage().contains("torch.ShortStorage"), type.getMessage());
        try (TensorSource missing = TorchStateDict.open(fixture("missing_record.pt"))) {
            assertTrue(missing.shapes().containsKey("linear.bias"));
            CheckpointException c = assertThrows(CheckpointException.class, () -> missing.load("linear.bias"));
            assertTrue(c.getMessage().contains("tensor 'linear.bias': storage record archive/data/1 is missing"), c.getMessage());
        }
    }

    @Test
    void refusesNonTensorEntriesAndNonDicts() throws IOException {
        // {'a': 5}
        Path p = zipWith("int.pt", concat(bytes(0x80, 2, '}'), bytes('X', 1, 0, 0, 0, 'a', 'K', 5, 's', '.')));
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchStateDict.read(p));
        assertTrue(e.getMessage().contains("entry 'a' is int 5, not a tensor"), e.getMessage());
        // [] at the top level
        Path q = zipWith("list.pt", bytes(0x80, 2, ']', '.'));
        CheckpointException f = assertThrows(CheckpointException.class, () -> TorchStateDict.read(q));
        assertTrue(f.getMessage().contains("the saved object is a list of 0, not a state dict"), f.getMessage());
    }

    @Test
    void refusesTheLegacyFormat() throws IOException {
        Path p = dir.resolve("legacy.pt");
        Files.write(p, bytes(0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'));
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchStateDict.read(p));
        assertTrue(e.getMessage().contains("legacy"), e.getMessage());
    }

    // --- the unpickler on its own ---------------------------------------------------------------------

    private static CheckpointException refused(byte[] pickle) {
        return assertThrows(CheckpointException.class, () -> RestrictedUnpickler.load(pickle, "t.pkl"));
    }

    @Test
    void unpicklerRefusesObjectBuildingAndUnknownOpcodes() {
        assertTrue(refused(bytes(0x80, 2, 0x81, '.')).getMessage().contains("refused pickle opcode NEWOBJ"));
        assertTrue(refused(concat(bytes('('), "ios\nsystem\n".getBytes(), bytes('.'))).getMessage().contains("refused pickle opcode INST"));
        assertTrue(refused(bytes(0x80, 2, 0x82, 1, '.')).getMessage().contains("refused pickle opcode EXT1"));
        assertTrue(refused(bytes(0x80, 2, 0xff)).getMessage().contains("unknown pickle opcode 0xff"));
        assertTrue(refused(bytes(0x80, 2, 'I')).getMessage().contains("refused pickle opcode INT"));
        // a storage type is only an inert tag: applying it is refused
        CheckpointException e = refused(concat(bytes(0x80, 2), "ctorch\nFloatStorage\n".getBytes(), bytes(')', 'R', '.')));
        assertTrue(e.getMessage().contains("refused REDUCE of torch.FloatStorage"), e.getMessage());
        // BUILD can only set a dict's attributes, not restore an arbitrary object
        assertTrue(refused(bytes(0x80, 2, ']', '}', 'b', '.')).getMessage().contains("refused BUILD"));
        // a persistent id that is not a storage
        assertTrue(refused(bytes(0x80, 2, 'K', 1, 'Q', '.')).getMessage().contains("refused persistent id int 1"));
    }

    @Test
    void unpicklerDecodesPlainValues() {
        // (None, True, -2, 2**64, 1.5, 'hé', b'\x01', [1, 2], {}) with a memo round trip
        byte[] p = concat(bytes(0x80, 2, '(', 'N', 0x88, 'J', 0xfe, 0xff, 0xff, 0xff, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1),
                bytes('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 'X', 3, 0, 0, 0, 'h', 0xc3, 0xa9, 'C', 1, 1),
                bytes(']', 'q', 7, '(', 'K', 1, 'K', 2, 'e', '0', 'h', 7, '}', 't', '.'));
        Object o = RestrictedUnpickler.load(p, "t.pkl");
        RestrictedUnpickler.Tuple t = assertInstanceOf(RestrictedUnpickler.Tuple.class, o);
        assertEquals(RestrictedUnpickler.NONE, t.get(0));
        assertEquals(Boolean.TRUE, t.get(1));
        assertEquals(-2L, t.get(2));
        assertEquals(java.math.BigInteger.ONE.shiftLeft(64), t.get(3));
        assertEquals(1.5, t.get(4));
        assertEquals("hé", t.get(5));
        assertArrayEquals(new byte[] {1}, (byte[]) t.get(6));
        assertEquals(List.of(1L, 2L), t.get(7));
        assertEquals(Map.of(), t.get(8));
    }

    @Test
    void unpicklerReportsTruncationAndLyingLengths() {
        assertTrue(refused(bytes(0x80, 2, 'J', 1)).getMessage().contains("truncated"));
        assertTrue(refused(bytes(0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, 'a')).getMessage().contains("exceeds"));
        assertTrue(refused(bytes(0x80, 2, 'N')).getMessage().contains("no STOP"));
    }
}
