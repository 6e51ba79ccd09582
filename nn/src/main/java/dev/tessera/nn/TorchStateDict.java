package dev.tessera.nn;

import dev.tessera.nn.RestrictedUnpickler.StorageRef;
import dev.tessera.nn.RestrictedUnpickler.TensorRef;
import dev.tessera.runtime.DType;
import dev.tessera.runtime.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads published checkpoints -- PyTorch {@code torch.save} state dicts and safetensors files -- into Tessera
 * tensors, <em>without ever executing code from the file</em>.
 *
 * <p><b>PyTorch files.</b> Since PyTorch 1.6, {@code torch.save} writes a ZIP archive with one top-level folder
 * (usually {@code archive/}): {@code data.pkl}, a pickle of the saved object; {@code data/<key>}, the raw
 * little-endian bytes of each storage; {@code byteorder} (optional, {@code little}) and {@code version}. The pickle
 * is decoded by {@link RestrictedUnpickler}, which accepts tensors ({@code torch._utils._rebuild_tensor_v2} over a
 * persistent-id storage, and {@code _rebuild_parameter}), dicts/OrderedDicts and plain values, and refuses any
 * other global or object-building opcode with a {@link CheckpointException} naming the file and what it refused.
 * Python's own {@code pickle.load} would import and call whatever the file names (the classic
 * {@code os.system} trojan); this reader has no way to.
 *
 * <p><b>What comes back.</b> The saved object must be a dict. If all its values are tensors it is the state
 * dict. Otherwise, as training checkpoints commonly wrap the weights (<code>{"state_dict": ..., "epoch": 3}</code>
 * or <code>{"model": ..., "optimizer": ...}</code>), the dict under {@code "state_dict"}, else under {@code "model"},
 * is taken and the sibling entries are ignored. Any remaining non-tensor value is an error naming its key. Keys
 * keep their order in the file.
 *
 * <p><b>Tensors.</b> Each is an independent, contiguous copy on the CPU, whatever its strides, storage offset or
 * sharing of storage with other tensors in the file (a transposed view is copied out in its own row-major
 * order). Storage types map to Tessera dtypes: Float→F32, Double→F64, BFloat16→BF16, Half→F16, Int→I32, Long→I64,
 * Byte→U8, Bool→BOOL; any other (Short, Char, complex, quantized...) is refused naming the tensor and the type.
 * The storage location ({@code cpu}, {@code cuda:0}) is ignored. Big-endian archives ({@code byteorder} "big")
 * are refused, as is the pre-1.6 non-zip format.
 *
 * <p><b>safetensors.</b> A file that is not a ZIP archive and does not start like a legacy pickle is read as
 * safetensors through {@link SafeTensors#read}, so one entry point loads either kind of published checkpoint.
 */
public final class TorchStateDict {
    /** The decoded pickle is kept in memory; a state-dict pickle is kilobytes, so anything this big is hostile. */
    static final long MAX_PICKLE_BYTES = 256L << 20;

    private TorchStateDict() {}

    /**
     * Every tensor of the checkpoint {@code file} (PyTorch zip or safetensors) by name, in file order.
     *
     * @throws CheckpointException if the file cannot be read, is corrupt or truncated, holds anything other than
     *     tensors and dicts where the state dict should be, uses a refused pickle construct, or a tensor type
     *     Tessera lacks; the message names the file and, where there is one, the tensor
     */
    public static Map<String, Tensor> read(Path file) {
        try (TensorSource source = open(file)) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            try {
                for (String name : source.shapes().keySet()) out.put(name, source.load(name));
            } catch (RuntimeException ex) {
                out.values().forEach(Tensor::close); // do not leak what was built before the fault
                throw ex;
            }
            return out;
        }
    }

    /**
     * The checkpoint {@code file} (PyTorch zip or safetensors) opened for loading one tensor at a time: the pickle (or
     * header) is decoded and every tensor's description checked here — its type, sizes, strides and offset — and each
     * tensor's storage is read only when it is loaded, so that loading a model never holds more than the model and one
     * tensor. Faults are {@link CheckpointException}s as for {@link #read}.
     */
    public static TensorSource open(Path file) {
        byte[] magic = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(magic, 0, 4);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (n == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) return ZipSource.open(file);
        if (n >= 1 && (magic[0] & 0xFF) == 0x80) {
            // the legacy format starts with a pickled magic number (protocol opcode 0x80)
            throw new CheckpointException(file + ": legacy (pre-1.6, non-zip) torch.save format is not supported; "
                    + "re-save it with a current PyTorch (torch.save(torch.load(f), f))");
        }
        return SafeTensors.open(file);
    }

    /** A {@code torch.save} archive whose tensors are described up front and read from their records on demand. */
    private static final class ZipSource implements TensorSource {
        private final Path file;
        private final ZipFile zip;
        private final String prefix;
        private final Map<String, TensorRef> refs;
        private final Map<String, int[]> shapes;

        private ZipSource(Path file, ZipFile zip, String prefix, Map<String, TensorRef> refs, Map<String, int[]> shapes) {
            this.file = file;
            this.zip = zip;
            this.prefix = prefix;
            this.refs = refs;
            this.shapes = shapes;
        }

        static ZipSource open(Path file) {
            ZipFile zip;
            try {
                zip = new ZipFile(file.toFile());
            } catch (ZipException e) {
                throw new CheckpointException(file + ": not a readable zip archive (truncated or corrupt?): " + e.getMessage(), e);
            } catch (IOException e) {
                throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
            }
            try {
                String prefix = archivePrefix(file, zip);
                ZipEntry order = zip.getEntry(prefix + "byteorder");
                if (order != null) {
                    String bo = new String(readSmall(file, zip, order, 64), StandardCharsets.US_ASCII).strip();
                    if (!bo.equals("little")) {
                        throw new CheckpointException(file + ": byteorder is '" + bo + "'; only little-endian checkpoints are supported");
                    }
                }
                String pklName = prefix + "data.pkl";
                byte[] pkl = readSmall(file, zip, zip.getEntry(pklName), MAX_PICKLE_BYTES);
                Object root = RestrictedUnpickler.load(pkl, file + " (" + pklName + ")");
                Map<String, TensorRef> refs = new LinkedHashMap<>();
                Map<String, int[]> shapes = new LinkedHashMap<>();
                for (var e : stateDict(file, root).entrySet()) {
                    if (!(e.getKey() instanceof String name)) {
                        throw new CheckpointException(file + ": state-dict key " + RestrictedUnpickler.describe(e.getKey()) + " is not a string");
                    }
                    TensorRef t = (TensorRef) e.getValue(); // stateDict checked every value
                    refs.put(name, t);
                    shapes.put(name, shapeOf(file, name, t));
                }
                return new ZipSource(file, zip, prefix, refs, shapes);
            } catch (ZipException e) {
                closeQuietly(zip);
                throw new CheckpointException(file + ": corrupt zip archive: " + e.getMessage(), e);
            } catch (IOException e) {
                closeQuietly(zip);
                throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
            } catch (RuntimeException e) {
                closeQuietly(zip);
                throw e;
            }
        }

        @Override public Map<String, int[]> shapes() {
            Map<String, int[]> out = new LinkedHashMap<>();
            shapes.forEach((n, s) -> out.put(n, s.clone()));
            return out;
        }

        @Override public Tensor load(String name) {
            TensorRef t = refs.get(name);
            if (t == null) throw new CheckpointException(file + ": no tensor named '" + name + "'");
            try (Arena arena = Arena.ofConfined()) {
                return materialize(file, zip, prefix, name, t, shapes.get(name), arena);
            } catch (ZipException e) {
                throw new CheckpointException(file + ": corrupt zip archive: " + e.getMessage(), e);
            } catch (IOException e) {
                throw new CheckpointException(file + ": cannot read: " + e.getMessage(), e);
            }
        }

        @Override public void close() { closeQuietly(zip); }

        private static void closeQuietly(ZipFile zip) {
            try {
                zip.close();
            } catch (IOException ignored) {
                // only reads were made: nothing is lost
            }
        }
    }

    /** The single top-level folder holding {@code data.pkl} (torch names it after the file; "archive" by default). */
    private static String archivePrefix(Path file, ZipFile zip) {
        List<String> found = new ArrayList<>();
        for (var it = zip.entries(); it.hasMoreElements(); ) {
            String name = it.nextElement().getName();
            int slash = name.indexOf('/');
            if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) found.add(name.substring(0, slash + 1));
        }
        if (found.size() != 1) {
            throw new CheckpointException(file + ": expected one <archive>/data.pkl record in the zip, found " + found.size()
                    + (found.isEmpty() ? " (not a torch.save file?)" : " " + found));
        }
        return found.getFirst();
    }

    /** The dict of tensors to return, following the unwrapping rule of the class documentation. */
    private static Map<?, ?> stateDict(Path file, Object root) {
        if (!(root instanceof Map<?, ?> top)) {
            throw new CheckpointException(file + ": the saved object is " + RestrictedUnpickler.describe(root) + ", not a state dict");
        }
        if (allTensors(top)) return top;
        for (String wrapper : List.of("state_dict", "model")) {
            if (top.get(wrapper) instanceof Map<?, ?> inner) {
                checkAllTensors(file, inner, wrapper + ".");
                return inner;
            }
        }
        checkAllTensors(file, top, "");
        return top; // not reached: checkAllTensors threw
    }

    private static boolean allTensors(Map<?, ?> d) {
        return d.values().stream().allMatch(v -> v instanceof TensorRef);
    }

    private static void checkAllTensors(Path file, Map<?, ?> d, String path) {
        for (var e : d.entrySet()) {
            if (!(e.getValue() instanceof TensorRef)) {
                throw new CheckpointException(file + ": entry '" + path + e.getKey() + "' is " + RestrictedUnpickler.describe(e.getValue())
                        + ", not a tensor; a state dict holds only tensors (or wraps them under \"state_dict\" or \"model\")");
            }
        }
    }

    static DType dtypeOf(String storageType) {
        return switch (storageType) {
            case "FloatStorage" -> DType.F32;
            case "DoubleStorage" -> DType.F64;
            case "BFloat16Storage" -> DType.BF16;
            case "HalfStorage" -> DType.F16;
            case "IntStorage" -> DType.I32;
            case "LongStorage" -> DType.I64;
            case "ByteStorage" -> DType.U8;
            case "BoolStorage" -> DType.BOOL;
            default -> null;
        };
    }

    /** The shape of tensor {@code name} after checking its storage type, sizes, strides and offset. */
    private static int[] shapeOf(Path file, String name, TensorRef t) {
        String where = file + ": tensor '" + name + "'";
        StorageRef s = t.storage();
        if (dtypeOf(s.typeName()) == null) {
            throw new CheckpointException(where + ": storage type torch." + s.typeName()
                    + " is not supported (Tessera reads Float, Double, BFloat16, Half, Int, Long, Byte and Bool storages)");
        }
        int rank = t.size().length;
        int[] shape = new int[rank];
        long numel = 1;
        for (int d = 0; d < rank; d++) {
            long sz = t.size()[d], st = t.stride()[d];
            if (sz < 0 || sz > Integer.MAX_VALUE) throw new CheckpointException(where + ": bad size " + sz + " in dimension " + d);
            if (st < 0) throw new CheckpointException(where + ": negative stride " + st + " in dimension " + d);
            shape[d] = (int) sz;
            numel *= sz;
            if (numel > Integer.MAX_VALUE) throw new CheckpointException(where + ": too many elements");
        }
        if (t.offset() < 0) throw new CheckpointException(where + ": negative storage offset " + t.offset());
        return shape;
    }

    /**
     * A contiguous copy of the strided view {@code t} (checked by {@link #shapeOf}) describes, after checking it lies
     * inside its storage, which is read into {@code arena}.
     */
    private static Tensor materialize(Path file, ZipFile zip, String prefix, String name, TensorRef t, int[] shape, Arena arena)
            throws IOException {
        String where = file + ": tensor '" + name + "'";
        StorageRef s = t.storage();
        DType dtype = dtypeOf(s.typeName());
        int es = dtype.byteSize();
        int rank = shape.length;
        long numel = 1;
        for (int d : shape) numel *= d;
        if (numel == 0) return Tensor.zeros(dtype, shape); // reads nothing, so its offset need not lie inside the storage
        String rec = prefix + "data/" + s.key();
        ZipEntry e = zip.getEntry(rec);
        if (e == null) throw new CheckpointException(where + ": storage record " + rec + " is missing from the archive");
        MemorySegment data = readRecord(file, zip, e, arena);
        long available = data.byteSize() / es;
        // the furthest element the view touches must exist; exact arithmetic so a hostile stride cannot wrap
        long last = t.offset();
        try {
            for (int d = 0; d < rank; d++) last = Math.addExact(last, Math.multiplyExact(shape[d] - 1L, t.stride()[d]));
        } catch (ArithmeticException ex) {
            last = Long.MAX_VALUE;
        }
        if (last >= available) {
            throw new CheckpointException(where + ": view (offset " + t.offset() + ", size " + java.util.Arrays.toString(t.size())
                    + ", stride " + java.util.Arrays.toString(t.stride()) + ") reaches element " + last + " but storage " + s.key()
                    + " holds " + available);
        }
        if (isRowMajor(shape, t.stride())) return Tensor.fromBytes(dtype, shape, data, t.offset() * es);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment packed = tmp.allocate(numel * es);
            gather(data, t.offset(), shape, t.stride(), es, packed);
            return Tensor.fromBytes(dtype, shape, packed, 0);
        }
    }

    /** True if {@code stride} is the row-major layout of {@code shape} (dimensions of size 1 may have any stride). */
    static boolean isRowMajor(int[] shape, long[] stride) {
        long expect = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] != 1 && stride[d] != expect) return false;
            expect *= shape[d];
        }
        return true;
    }

    /** Copies the strided view into {@code dst} in row-major order; innermost runs of stride 1 are copied in bulk. */
    private static void gather(MemorySegment src, long offset, int[] shape, long[] stride, int es, MemorySegment dst) {
        int rank = shape.length;
        int inner = shape[rank - 1];
        long innerStride = stride[rank - 1];
        int[] idx = new int[rank]; // odometer over all dimensions but the last
        long at = 0;
        while (true) {
            long base = offset;
            for (int d = 0; d < rank - 1; d++) base += idx[d] * stride[d];
            if (innerStride == 1) {
                MemorySegment.copy(src, base * es, dst, at, (long) inner * es);
                at += (long) inner * es;
            } else {
                for (int i = 0; i < inner; i++, at += es) MemorySegment.copy(src, (base + i * innerStride) * es, dst, at, es);
            }
            int d = rank - 2;
            while (d >= 0 && ++idx[d] == shape[d]) idx[d--] = 0;
            if (d < 0) return;
        }
    }

    private static byte[] readSmall(Path file, ZipFile zip, ZipEntry e, long limit) throws IOException {
        if (e.getSize() > limit) throw new CheckpointException(file + ": record " + e.getName() + " is " + e.getSize() + " bytes, over the limit of " + limit);
        try (InputStream in = zip.getInputStream(e)) {
            byte[] b = in.readNBytes((int) Math.min(limit, Integer.MAX_VALUE - 8) + 1);
            if (b.length > limit) throw new CheckpointException(file + ": record " + e.getName() + " is over the limit of " + limit + " bytes");
            return b;
        }
    }

    /** A storage record into off-heap memory (records may exceed a Java array). */
    private static MemorySegment readRecord(Path file, ZipFile zip, ZipEntry e, Arena arena) throws IOException {
        long size = e.getSize();
        if (size < 0) return MemorySegment.ofArray(readSmall(file, zip, e, Integer.MAX_VALUE - 8)); // size not recorded
        MemorySegment seg = arena.allocate(Math.max(1, size)).asSlice(0, size);
        byte[] buf = new byte[1 << 16];
        long at = 0;
        try (InputStream in = zip.getInputStream(e)) {
            while (at < size) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, size - at));
                if (n < 0) throw new CheckpointException(file + ": record " + e.getName() + " is truncated (" + at + " of " + size + " bytes)");
                MemorySegment.copy(MemorySegment.ofArray(buf), 0, seg, at, n);
                at += n;
            }
        }
        return seg;
    }
}
