package dev.tessera.nn;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header mapping
 * each tensor name to its dtype, shape and byte range within the data section (plus an optional string map
 * {@code __metadata__}), then the raw little-endian data. Reads are memory-mapped and validated before any
 * tensor is built; writes are atomic (temporary file, fsync, rename).
 */
public final class SafeTensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Headers above this size are refused as corrupt (the reference implementation's limit). */
    static final long MAX_HEADER = 100L << 20;

    private SafeTensors() {}

    /** One tensor's description in the header. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {}

    /** An open, memory-mapped safetensors file. Tensors loaded from it are copies and outlive it. */
    public static final class Reader implements TensorSource {
        private final Path path;
        private final Arena arena;
        private final MemorySegment data;
        private final Map<String, Entry> entries;
        private final Map<String, String> metadata;

        private Reader(Path path, Arena arena, MemorySegment data, Map<String, Entry> entries, Map<String, String> metadata) {
            this.path = path;
            this.arena = arena;
            this.data = data;
            this.entries = entries;
            this.metadata = metadata;
        }

        public Map<String, Entry> entries() { return java.util.Collections.unmodifiableMap(entries); }

        @Override public Map<String, int[]> shapes() {
            Map<String, int[]> out = new LinkedHashMap<>();
            entries.forEach((n, e) -> out.put(n, e.shape().clone()));
            return out;
        }

        public Map<String, String> metadata() { return java.util.Collections.unmodifiableMap(metadata); }

        public boolean contains(String name) { return entries.containsKey(name); }

        /** A copy of tensor {@code name}. */
        @Override public Tensor load(String name) {
            Entry e = entries.get(name);
            if (e == null) throw new CheckpointException(path + ": no tensor named '" + name + "'");
            return Tensor.fromBytes(e.dtype(), e.shape(), data, e.begin());
        }

        /** Copies of every tensor, in header order. */
        public Map<String, Tensor> loadAll() {
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String n : entries.keySet()) out.put(n, load(n));
            return out;
        }

        @Override public void close() { arena.close(); }
    }

    /** Opens and validates {@code path}; every fault names the file (and the key where there is one). */
    public static Reader open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new CheckpointException(path + ": truncated safetensors file (" + size + " bytes, no header length)");
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen <= 0 || headerLen > MAX_HEADER || headerLen > size - 8) {
                throw new CheckpointException(path + ": bad header length " + headerLen + " for a file of " + size + " bytes");
            }
            byte[] header = all.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = all.asSlice(8 + headerLen);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, header, data.byteSize(), metadata);
            return new Reader(path, arena, data, entries, metadata);
        } catch (IOException e) {
            arena.close();
            throw new CheckpointException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Reads every tensor of {@code path}. */
    public static Map<String, Tensor> read(Path path) {
        try (Reader r = open(path)) {
            return r.loadAll();
        }
    }

    private static Map<String, Entry> parseHeader(Path path, byte[] header, long dataSize, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(new String(header, StandardCharsets.UTF_8).strip());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(path + ": header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) throw new CheckpointException(path + ": header is not a JSON object");
        Map<String, Entry> entries = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw new CheckpointException(path + ": __metadata__ must be an object of strings");
                for (var m : v.properties()) {
                    if (!m.getValue().isTextual()) throw new CheckpointException(path + ": __metadata__ value of '" + m.getKey() + "' is not a string");
                    metadata.put(m.getKey(), m.getValue().asText());
                }
                continue;
            }
            entries.put(name, parseEntry(path, name, v, dataSize));
        }
        checkNoOverlap(path, entries);
        return entries;
    }

    private static Entry parseEntry(Path path, String name, JsonNode v, long dataSize) {
        String where = path + ": tensor '" + name + "'";
        if (!v.isObject()) throw new CheckpointException(where + ": entry is not an object");
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw new CheckpointException(where + ": missing dtype");
        DType dtype = dtypeOf(dt.asText(), where);
        if (sh == null || !sh.isArray()) throw new CheckpointException(where + ": missing shape");
        int[] shape = new int[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || d.asLong() < 0 || d.asLong() > Integer.MAX_VALUE) {
                throw new CheckpointException(where + ": bad dimension " + d + " in shape " + sh);
            }
            shape[i] = (int) d.asLong();
            numel *= shape[i];
            if (numel > Integer.MAX_VALUE) throw new CheckpointException(where + ": shape " + sh + " is too large");
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new CheckpointException(where + ": data_offsets must be [begin, end]");
        }
        long begin = off.get(0).asLong(), end = off.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw new CheckpointException(where + ": data_offsets [" + begin + ", " + end + "] out of range for " + dataSize + " data bytes");
        }
        if (end - begin != numel * dtype.byteSize()) {
            throw new CheckpointException(where + ": " + (end - begin) + " data bytes for shape " + sh + " of " + dtype + " (expected "
                    + numel * dtype.byteSize() + ")");
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort((a, b) -> Long.compare(a.begin(), b.begin()));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1), b = sorted.get(i);
            if (b.begin() < a.end()) {
                throw new CheckpointException(path + ": tensors '" + a.name() + "' and '" + b.name() + "' overlap in the data section");
            }
        }
    }

    static DType dtypeOf(String s, String where) {
        return switch (s) {
            case "F32" -> DType.F32;
            case "F64" -> DType.F64;
            case "BF16" -> DType.BF16;
            case "F16" -> DType.F16;
            case "I32" -> DType.I32;
            case "I64" -> DType.I64;
            case "U8" -> DType.U8;
            case "BOOL" -> DType.BOOL;
            default -> throw new CheckpointException(where + ": unsupported dtype " + s
                    + " (Tessera reads F32, F64, BF16, F16, I32, I64, U8, BOOL)");
        };
    }

    static String nameOf(DType t) { return t.name(); }

    /**
     * Writes {@code tensors} (in iteration order) and {@code metadata} to {@code path} atomically: the previous
     * file stays intact until the new one is complete and synced.
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long at = 0;
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long bytes = t.numel() * t.dtype().byteSize();
            ObjectNode n = header.putObject(e.getKey());
            n.put("dtype", nameOf(t.dtype()));
            var sh = n.putArray("shape");
            for (int d : t.shape()) sh.add(d);
            n.putArray("data_offsets").add(at).add(at + bytes);
            at += bytes;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new CheckpointException(path + ": cannot encode header", e);
        }
        int padded = (json.length + 7) / 8 * 8; // the data section starts 8-byte aligned
        byte[] head = java.util.Arrays.copyOf(json, padded);
        java.util.Arrays.fill(head, json.length, padded, (byte) ' ');
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, path.getFileName().toString(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(head));
                for (Tensor t : tensors.values()) {
                    long bytes = t.numel() * t.dtype().byteSize();
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment buf = a.allocate(Math.max(1, bytes));
                        t.copyBytesTo(buf, 0);
                        writeFully(ch, buf.asSlice(0, bytes).asByteBuffer());
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true); // make the rename itself durable
            } catch (IOException ignored) {
                // some file systems cannot sync a directory; the data file itself is synced
            }
        } catch (IOException e) {
            throw new CheckpointException(path + ": cannot write: " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: a stray temporary file never replaces the checkpoint
                }
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
