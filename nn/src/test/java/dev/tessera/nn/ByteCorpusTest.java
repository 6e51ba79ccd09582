package dev.tessera.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Scope;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
}
