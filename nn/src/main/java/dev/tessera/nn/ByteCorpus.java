package dev.tessera.nn;

import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import dev.tessera.runtime.TesseraException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A byte corpus for language-model training: one byte sequence (documents joined end to end), memory-mapped
 * when it is a single file, with its document boundaries, a deterministic held-out split (the last
 * {@code heldOutFraction} of the bytes) and seeded random windows.
 *
 * <p><b>Packed batches.</b> {@link #pack(List, int)} lays whole documents end to end in one row of at most
 * {@code maxTokens} bytes instead of padding each to a common length: inputs and targets are [1, T] I64 and
 * {@link PackedBatch#cuSeqlens()} = {0, …, T} marks where each document starts. Pass the offsets to
 * {@code Isotropic.forward(x, cuSeqlens)} so that no position sees another document (attention masks, conv and
 * scan states, rotary positions all restart), and score with {@code Functional.crossEntropy}: the last byte of each
 * document has target {@link #IGNORE_INDEX} (−100, its default ignore index), because what follows it is the next
 * document, which it must not learn to predict.
 */
public final class ByteCorpus implements AutoCloseable {
    private final String name;
    private final Arena arena;
    private final MemorySegment bytes;
    private final long[] documentStarts;

    private ByteCorpus(String name, Arena arena, MemorySegment bytes, long[] documentStarts) {
        this.name = name;
        this.arena = arena;
        this.bytes = bytes;
        this.documentStarts = documentStarts;
    }

    /** A corpus over the bytes of one file, memory-mapped. */
    public static ByteCorpus ofFile(Path file) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() == 0) throw new IllegalArgumentException("corpus file " + file + " is empty");
            return new ByteCorpus(file.toString(), arena, ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena), new long[] {0});
        } catch (IOException e) {
            arena.close();
            throw new TesseraException("cannot read corpus file " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** A corpus of the in-memory {@code data} (tests, small texts). */
    public static ByteCorpus ofBytes(String name, byte[] data) {
        if (data.length == 0) throw new IllegalArgumentException("corpus '" + name + "' is empty");
        Arena arena = Arena.ofShared();
        MemorySegment m = arena.allocate(data.length);
        MemorySegment.copy(data, 0, m, ValueLayout.JAVA_BYTE, 0, data.length);
        return new ByteCorpus(name, arena, m, new long[] {0});
    }

    /** Every regular file under {@code dir} (sorted by path, so the order is reproducible), each a document. */
    public static ByteCorpus ofDirectory(Path dir) {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new TesseraException("cannot list corpus directory " + dir + ": " + e.getMessage(), e);
        }
        List<byte[]> docs = new ArrayList<>();
        for (Path f : files) {
            try {
                byte[] b = Files.readAllBytes(f);
                if (b.length > 0) docs.add(b);
            } catch (IOException e) {
                throw new TesseraException("cannot read corpus file " + f + ": " + e.getMessage(), e);
            }
        }
        if (docs.isEmpty()) throw new IllegalArgumentException("corpus directory " + dir + " holds no non-empty files");
        return join(dir.toString(), docs);
    }

    /** The running JDK's own source code ({@code lib/src.zip}), or null when this JDK ships none. */
    public static Path jdkSourceZip() {
        Path p = Path.of(System.getProperty("java.home"), "lib", "src.zip");
        return Files.isRegularFile(p) ? p : null;
    }

    /**
     * The {@code .java} files of a JDK {@code src.zip} whose path starts with {@code prefix} (e.g. "java.base/java/"),
     * in archive order, up to {@code maxBytes} bytes: real source code present on every full JDK.
     */
    public static ByteCorpus ofSourceZip(Path zip, String prefix, long maxBytes) {
        List<byte[]> docs = new ArrayList<>();
        long total = 0;
        try (ZipFile z = new ZipFile(zip.toFile())) {
            List<? extends ZipEntry> entries = Collections.list(z.entries());
            for (ZipEntry e : entries) {
                if (e.isDirectory() || !e.getName().startsWith(prefix) || !e.getName().endsWith(".java")) continue;
                try (InputStream in = z.getInputStream(e)) {
                    byte[] b = in.readAllBytes();
                    if (total + b.length > maxBytes) break;
                    docs.add(b);
                    total += b.length;
                }
            }
        } catch (IOException e) {
            throw new TesseraException("cannot read source archive " + zip + ": " + e.getMessage(), e);
        }
        if (docs.isEmpty()) throw new IllegalArgumentException("source archive " + zip + " has no .java files under '" + prefix + "'");
        return join(zip + "!" + prefix, docs);
    }

    private static ByteCorpus join(String name, List<byte[]> docs) {
        long total = 0;
        for (byte[] d : docs) total += d.length;
        Arena arena = Arena.ofShared();
        MemorySegment m = arena.allocate(total);
        long[] starts = new long[docs.size()];
        long at = 0;
        for (int i = 0; i < docs.size(); i++) {
            starts[i] = at;
            MemorySegment.copy(docs.get(i), 0, m, ValueLayout.JAVA_BYTE, at, docs.get(i).length);
            at += docs.get(i).length;
        }
        return new ByteCorpus(name, arena, m, starts);
    }

    public String name() { return name; }

    public long size() { return bytes.byteSize(); }

    /** Start offsets of the documents, ascending, the first 0. */
    public long[] documentStarts() { return documentStarts.clone(); }

    public byte byteAt(long i) { return bytes.get(ValueLayout.JAVA_BYTE, i); }

    /** Bytes {@code [from, from+len)}. */
    public byte[] slice(long from, int len) {
        if (from < 0 || len < 0 || from + len > size()) {
            throw new IndexOutOfBoundsException("corpus slice [" + from + ", " + (from + len) + ") outside [0, " + size() + ")");
        }
        return bytes.asSlice(from, len).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Which part of the corpus a window comes from. */
    public enum Split { TRAIN, HELD_OUT }

    /** The byte range [start, end) of a split: held-out is the last {@code heldOutFraction} of the corpus. */
    public long[] range(Split split, double heldOutFraction) {
        if (heldOutFraction <= 0 || heldOutFraction >= 1) {
            throw new IllegalArgumentException("held-out fraction must be in (0, 1), got " + heldOutFraction);
        }
        long cut = size() - (long) Math.ceil(size() * heldOutFraction);
        return split == Split.TRAIN ? new long[] {0, cut} : new long[] {cut, size()};
    }

    /** A batch of windows: inputs and next-byte targets, both [batch, length] I64. */
    public record Batch(Tensor inputs, Tensor targets) {}

    /**
     * {@code batch} windows of {@code length + 1} bytes at offsets drawn from {@code gen} inside the split;
     * inputs are the first {@code length} bytes, targets the last {@code length}. The generator's offset is the data
     * position a checkpoint saves.
     */
    public Batch sample(Generator gen, Split split, double heldOutFraction, int batch, int length) {
        long[] r = range(split, heldOutFraction);
        long span = r[1] - r[0] - (length + 1);
        if (span < 0) {
            throw new IllegalArgumentException("corpus split " + split + " of " + name + " has " + (r[1] - r[0])
                    + " bytes, fewer than one window of " + (length + 1));
        }
        long[] in = new long[batch * length], tg = new long[batch * length];
        try (var s = dev.tessera.runtime.Scope.open()) {
            long[] offs = Tensor.randint(gen, 0, span + 1, batch).toLongArray();
            for (int b = 0; b < batch; b++) {
                byte[] w = slice(r[0] + offs[b], length + 1);
                for (int t = 0; t < length; t++) {
                    in[b * length + t] = w[t] & 0xFF;
                    tg[b * length + t] = w[t + 1] & 0xFF;
                }
            }
        }
        return new Batch(Tensor.of(in, batch, length), Tensor.of(tg, batch, length));
    }

    /**
     * Non-overlapping windows {start, length + 1} of a split for a deterministic evaluation pass: the split cut into
     * consecutive windows, all of them when there are at most {@code maxWindows}, else {@code maxWindows} of them
     * spread evenly from its start to its end — a sample of the whole split, not of its first pages (on Tiny
     * Shakespeare the first 64 windows of the held-out tenth score 0.16 bits per byte below the whole of it).
     */
    public List<long[]> evaluationWindows(Split split, double heldOutFraction, int length, int maxWindows) {
        long[] r = range(split, heldOutFraction);
        long n = Math.max(0, (r[1] - r[0] - 1) / length); // windows at r[0] + k·length that fit
        long take = Math.min(n, Math.max(0, maxWindows));
        List<long[]> out = new ArrayList<>();
        for (long k = 0; k < take; k++) out.add(new long[] {r[0] + k * n / take * length, length + 1});
        return out;
    }

    /** The target of a position that predicts nothing: {@code Functional.crossEntropy}'s default ignore index. */
    public static final long IGNORE_INDEX = -100;

    /**
     * Documents packed into one row: inputs and next-byte targets [1, T] I64, document offsets {@code cuSeqlens}
     * {0, …, T} (one more than the number of packed documents), and how many of the given documents it consumed.
     */
    public record PackedBatch(Tensor inputs, Tensor targets, int[] cuSeqlens, int documentsConsumed) {
        public PackedBatch {
            cuSeqlens = cuSeqlens.clone();
        }

        /** A copy: the offsets are the batch's own. */
        @Override public int[] cuSeqlens() { return cuSeqlens.clone(); }

        /** T, the packed length. */
        public int length() { return cuSeqlens[cuSeqlens.length - 1]; }
    }

    /**
     * Packs {@code documents} in order into one row of at most {@code maxTokens} bytes. Whole documents are taken
     * while they fit; packing stops at the first that does not, so the caller continues with
     * {@code documents.subList(documentsConsumed, …)}. The one exception keeps every batch non-empty: when the first
     * non-empty document alone is longer than {@code maxTokens}, its first {@code maxTokens} bytes form the batch
     * (the rest is dropped; split long documents beforehand to keep it). Empty documents are skipped and counted as
     * consumed. Targets are the next byte within the same document; a document's last byte gets
     * {@link #IGNORE_INDEX}, except when the document was cut, where the byte after the cut is a true target.
     *
     * @throws IllegalArgumentException if maxTokens &lt; 1 or no document holds a byte
     */
    public static PackedBatch pack(List<byte[]> documents, int maxTokens) {
        if (maxTokens < 1) throw new IllegalArgumentException("pack: maxTokens must be at least 1, got " + maxTokens);
        List<Integer> cu = new ArrayList<>(List.of(0));
        long[] in = new long[maxTokens], tg = new long[maxTokens];
        int at = 0, consumed = 0;
        for (byte[] doc : documents) {
            if (doc.length == 0) {
                consumed++;
                continue;
            }
            int room = maxTokens - at;
            boolean cut = at == 0 && doc.length > maxTokens; // too long even alone: take its head
            if (!cut && doc.length > room) break;
            int n = cut ? maxTokens : doc.length;
            for (int t = 0; t < n; t++) {
                in[at + t] = doc[t] & 0xFF;
                tg[at + t] = t + 1 < doc.length ? doc[t + 1] & 0xFF : IGNORE_INDEX;
            }
            at += n;
            cu.add(at);
            consumed++;
            if (cut || at == maxTokens) break;
        }
        if (at == 0) throw new IllegalArgumentException("pack: none of the " + documents.size() + " documents holds a byte");
        int[] offsets = cu.stream().mapToInt(Integer::intValue).toArray();
        return new PackedBatch(Tensor.of(Arrays.copyOf(in, at), 1, at), Tensor.of(Arrays.copyOf(tg, at), 1, at), offsets, consumed);
    }

    /** Bytes as an I64 tensor [n] (for scoring a text). */
    public static Tensor bytesToTensor(byte[] b) {
        long[] v = new long[b.length];
        for (int i = 0; i < b.length; i++) v[i] = b[i] & 0xFF;
        return Tensor.of(v, b.length);
    }


    @Override public void close() { arena.close(); }
}
