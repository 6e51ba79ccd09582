package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ByteCorpusTest {
    @TempDir
    Path dir;

    @Test
    void windowsAreSeededShiftedAndStayInTheirSplit() {
        byte[] data = new byte[1000];
        for (int i = 0; i < 1000; i++) data[i] = (byte) (i < 900 ? 'a' + i % 3 : 'z'); // the last 10% is held out
        try (ByteCorpus c = ByteCorpus.ofBytes("t", data); Scope s = Scope.open()) {
            assertArrayEquals(new long[] {0, 900}, c.range(ByteCorpus.Split.TRAIN, 0.1));
            assertArrayEquals(new long[] {900, 1000}, c.range(ByteCorpus.Split.HELD_OUT, 0.1));
            ByteCorpus.Batch b1 = c.sample(new Generator(7), ByteCorpus.Split.TRAIN, 0.1, 16, 32);
            ByteCorpus.Batch b2 = c.sample(new Generator(7), ByteCorpus.Split.TRAIN, 0.1, 16, 32);
            assertArrayEquals(b1.inputs().toLongArray(), b2.inputs().toLongArray(), "same seed, same windows");
            long[] in = b1.inputs().toLongArray(), tg = b1.targets().toLongArray();
            for (int b = 0; b < 16; b++) {
                for (int t = 0; t + 1 < 32; t++) assertEquals(in[b * 32 + t + 1], tg[b * 32 + t], "targets are inputs shifted by one");
            }
            for (long v : tg) assertTrue(v != 'z', "no held-out byte in a training window");
            ByteCorpus.Batch h = c.sample(new Generator(1), ByteCorpus.Split.HELD_OUT, 0.1, 4, 50);
            for (long v : h.inputs().toLongArray()) assertEquals('z', v);
            assertThrows(IllegalArgumentException.class, () -> c.sample(new Generator(1), ByteCorpus.Split.HELD_OUT, 0.1, 1, 100));
        }
    }

    /** All windows of the held-out part when they are few; else a fixed number spread from its start to its end. */
    @Test
    void evaluationWindowsCoverTheWholeSplit() {
        byte[] data = new byte[10_000];
        try (ByteCorpus c = ByteCorpus.ofBytes("t", data)) {
            // held out: [9000, 10000), 1000 bytes; windows of 10 + 1 bytes every 10 bytes: 99 fit
            List<long[]> all = c.evaluationWindows(ByteCorpus.Split.HELD_OUT, 0.1, 10, 500);
            assertEquals(99, all.size());
            for (int k = 0; k < all.size(); k++) assertArrayEquals(new long[] {9000 + 10L * k, 11}, all.get(k));
            List<long[]> some = c.evaluationWindows(ByteCorpus.Split.HELD_OUT, 0.1, 10, 8);
            assertEquals(8, some.size());
            assertEquals(9000, some.get(0)[0], "the first window at the split's start");
            assertTrue(some.get(7)[0] >= 9000 + 10 * 86, "the last among the split's last eighth: " + some.get(7)[0]);
            for (int k = 1; k < 8; k++) {
                long gap = some.get(k)[0] - some.get(k - 1)[0];
                assertTrue(gap >= 120 && gap <= 130 && gap % 10 == 0, "evenly spread, on the window grid: " + gap);
            }
            assertTrue(c.evaluationWindows(ByteCorpus.Split.HELD_OUT, 0.1, 1000, 8).isEmpty(), "no window fits");
        }
    }

    @Test
    void directoryCorpusIsSortedWithDocumentStarts() throws Exception {
        Files.writeString(dir.resolve("b.txt"), "world");
        Files.writeString(dir.resolve("a.txt"), "hello ");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/c.txt"), "!");
        try (ByteCorpus c = ByteCorpus.ofDirectory(dir)) {
            assertEquals("hello world!", new String(c.slice(0, (int) c.size()), StandardCharsets.UTF_8));
            assertArrayEquals(new long[] {0, 6, 11}, c.documentStarts());
        }
        Path file = dir.resolve("a.txt");
        try (ByteCorpus c = ByteCorpus.ofFile(file)) {
            assertEquals(6, c.size());
            assertEquals('h', c.byteAt(0));
        }
    }

    @Test
    void jdkSourcesMakeACorpus() {
        Path zip = ByteCorpus.jdkSourceZip();
        assumeTrue(zip != null, "this JDK has no lib/src.zip; the default corpus is unavailable here");
        try (ByteCorpus c = ByteCorpus.ofSourceZip(zip, "java.base/java/util/", 1 << 20)) {
            assertTrue(c.size() > 100_000 && c.size() <= 1 << 20, "size " + c.size());
            String head = new String(c.slice(0, 2000), StandardCharsets.UTF_8);
            assertTrue(head.contains("package java.util"), "real Java source: " + head.substring(0, 200));
        }
    }

    @Test
    void packLaysWholeDocumentsEndToEndWithTargetsInsideEachDocument() {
        List<byte[]> docs = List.of(ascii("abc"), ascii(""), ascii("de"), ascii("fghij"), ascii("k"));
        try (Scope s = Scope.open()) {
            ByteCorpus.PackedBatch p = ByteCorpus.pack(docs, 8);
            assertArrayEquals(new int[] {0, 3, 5}, p.cuSeqlens(), "fghij does not fit in the 3 bytes left");
            assertEquals(3, p.documentsConsumed(), "abc, the empty document and de");
            assertEquals(5, p.length());
            assertArrayEquals(new int[] {1, 5}, p.inputs().shape());
            assertArrayEquals(new long[] {'a', 'b', 'c', 'd', 'e'}, p.inputs().toLongArray());
            assertArrayEquals(new long[] {'b', 'c', -100, 'e', -100}, p.targets().toLongArray(), "no target crosses a document end");

            ByteCorpus.PackedBatch rest = ByteCorpus.pack(docs.subList(p.documentsConsumed(), docs.size()), 8);
            assertArrayEquals(new int[] {0, 5, 6}, rest.cuSeqlens());
            assertEquals(2, rest.documentsConsumed());
            assertArrayEquals(new long[] {'g', 'h', 'i', 'j', -100, -100}, rest.targets().toLongArray());

            // crossEntropy's default ignore index skips the document ends: uniform logits give ln 256 per counted byte
            Tensor logits = Tensor.zeros(5, 256);
            double total = Functional.crossEntropy(logits, p.targets().reshape(5), -100, Functional.Reduction.SUM).item();
            assertEquals(3 * Math.log(256), total, 1e-4);
        }
    }

    @Test
    void packCutsOnlyADocumentTooLongToFitAlone() {
        try (Scope s = Scope.open()) {
            ByteCorpus.PackedBatch p = ByteCorpus.pack(List.of(ascii("0123456789"), ascii("x")), 4);
            assertArrayEquals(new int[] {0, 4}, p.cuSeqlens());
            assertEquals(1, p.documentsConsumed());
            assertArrayEquals(new long[] {'0', '1', '2', '3'}, p.inputs().toLongArray());
            assertArrayEquals(new long[] {'1', '2', '3', '4'}, p.targets().toLongArray(), "the byte after the cut is a true target");
            int[] cu = p.cuSeqlens();
            cu[1] = 99;
            assertEquals(4, p.cuSeqlens()[1], "the batch keeps its own offsets");
        }
        assertThrows(IllegalArgumentException.class, () -> ByteCorpus.pack(List.of(ascii("a")), 0));
        assertThrows(IllegalArgumentException.class, () -> ByteCorpus.pack(List.of(ascii(""), ascii("")), 4));
        assertThrows(IllegalArgumentException.class, () -> ByteCorpus.pack(List.of(), 4));
    }

    private static byte[] ascii(String s) { return s.getBytes(StandardCharsets.US_ASCII); }
}
