package dev.tessera.nn;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A pickle <em>reader</em>, not a pickle VM: it decodes the subset of the pickle protocol that
 * {@code torch.save} emits for a state dict into plain Java values, and refuses everything else.
 *
 * <p>Python's unpickler executes code by design: {@code GLOBAL} imports any attribute of any module and
 * {@code REDUCE} calls it, which is how a hostile checkpoint runs {@code os.system}. This reader never
 * resolves a name to code. A {@code GLOBAL}/{@code STACK_GLOBAL} is accepted only if it is on a short
 * allow-list and then becomes an inert {@link Global} marker; {@code REDUCE} is interpreted only for the
 * allow-listed markers, by Java code written here that builds a {@link TensorRef} or an empty dict. Any other
 * global, any object-building opcode ({@code INST}, {@code OBJ}, {@code NEWOBJ}, extension registry codes,
 * out-of-band buffers) and any unknown opcode is a {@link CheckpointException} naming the file and what was
 * refused.
 *
 * <p>Decoded values: {@link String}, {@code byte[]}, {@link Long} (or {@link BigInteger} beyond 64 bits),
 * {@link Double}, {@link Boolean}, {@link #NONE}, {@link Tuple}, {@link ArrayList} (Python list),
 * {@link LinkedHashMap} (dict and OrderedDict, insertion order kept), {@link StorageRef} (a persistent id) and
 * {@link TensorRef}. Tensors are descriptions only; {@link TorchStateDict} resolves their storages.
 *
 * <p>Supported opcodes: everything protocols 2 and 4 use for data (PROTO, FRAME, MARK, STOP, POP, POP_MARK,
 * DUP, the binary ints/longs/floats/strings/bytes, NONE/NEWTRUE/NEWFALSE, tuples, lists, dicts, the memo
 * opcodes, SETITEM(S), APPEND(S)), plus GLOBAL, STACK_GLOBAL, REDUCE, BUILD and BINPERSID under the rules above.
 * The text opcodes of protocol 0 are refused: torch never writes them.
 */
final class RestrictedUnpickler {
    /** Python's {@code None}. A marker rather than {@code null} so that it prints in error messages. */
    enum None { NONE }

    static final None NONE = None.NONE;

    /** A Python tuple: immutable, distinct from a list. */
    record Tuple(List<Object> items) {
        Tuple { items = List.copyOf(items); } // nothing pushes null: None is NONE

        int size() { return items.size(); }

        Object get(int i) { return items.get(i); }
    }

    /** An allow-listed global, by name only; it is never resolved to anything executable. */
    record Global(String module, String name) {
        String qualified() { return module + "." + name; }

        @Override public String toString() { return qualified(); }
    }

    /** A storage named by a persistent id {@code ('storage', torch.XStorage, key, location, numel)}. */
    record StorageRef(String typeName, String key, String location, long numel) {}

    /** A tensor described by {@code _rebuild_tensor_v2}: a strided view into a storage, in elements. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    static final Global ORDERED_DICT = new Global("collections", "OrderedDict");
    static final Global REBUILD_TENSOR_V2 = new Global("torch._utils", "_rebuild_tensor_v2");
    /** The older form, without requires_grad and hooks: (storage, offset, size, stride). */
    static final Global REBUILD_TENSOR = new Global("torch._utils", "_rebuild_tensor");
    /** {@code nn.Parameter}'s reduction: (data, requires_grad, backward_hooks); we keep the data. */
    static final Global REBUILD_PARAMETER = new Global("torch._utils", "_rebuild_parameter");

    private static final Set<Global> CALLABLES = Set.of(ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER);
    /** Storage classes (torch.FloatStorage, torch.ShortStorage, ...) are inert type tags inside persistent ids. */
    private static final Pattern STORAGE_CLASS = Pattern.compile("[A-Za-z0-9]+Storage");

    /** Opcode names, so that a refusal says what it refused (pickletools' names). */
    private static final Map<Integer, String> NAMES = opcodeNames();

    private final ByteBuffer in;
    private final String where;
    private final ArrayList<Object> stack = new ArrayList<>();
    /** Start indices in {@link #stack} of the open MARKs. */
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private RestrictedUnpickler(byte[] pickle, String where) {
        this.in = ByteBuffer.wrap(pickle).order(ByteOrder.LITTLE_ENDIAN);
        this.where = where;
    }

    /**
     * Decodes one pickle. {@code where} prefixes every error (e.g. the file and the record name).
     *
     * @throws CheckpointException for a refused opcode or global, or a malformed or truncated pickle
     */
    static Object load(byte[] pickle, String where) {
        RestrictedUnpickler u = new RestrictedUnpickler(pickle, where);
        try {
            return u.run();
        } catch (java.nio.BufferUnderflowException e) {
            throw new CheckpointException(where + ": pickle is truncated (ran out of bytes at offset " + u.in.position() + ")", e);
        }
    }

    private CheckpointException fail(int at, String message) {
        return new CheckpointException(where + ": " + message + " (pickle byte offset " + at + ")");
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) throw fail(in.position(), "pickle is truncated: no STOP opcode");
            int at = in.position();
            int op = in.get() & 0xFF;
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = in.get() & 0xFF;
                    if (v > 5) throw fail(at, "unknown pickle protocol " + v);
                }
                case 0x95 -> in.getLong(); // FRAME: a length hint only; framing does not change the opcode stream
                case '(' -> { marks.add(stack.size()); }
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) throw fail(at, "malformed pickle: " + stack.size() + " values left at STOP");
                    return stack.get(0);
                }
                case '0' -> pop(at); // POP
                case '1' -> popMark(at); // POP_MARK
                case '2' -> push(peek(at)); // DUP
                case 'N' -> push(NONE);
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'J' -> push((long) in.getInt()); // BININT
                case 'K' -> push((long) (in.get() & 0xFF)); // BININT1
                case 'M' -> push((long) (in.getShort() & 0xFFFF)); // BININT2
                case 0x8a -> push(readLong(at, in.get() & 0xFF)); // LONG1
                case 0x8b -> push(readLong(at, length(at, in.getInt() & 0xFFFFFFFFL))); // LONG4
                case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT: the protocol's one big-endian field
                case 'X' -> push(utf8(at, length(at, in.getInt() & 0xFFFFFFFFL))); // BINUNICODE
                case 0x8c -> push(utf8(at, in.get() & 0xFF)); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(at, length(at, in.getLong()))); // BINUNICODE8
                // BINSTRING / SHORT_BINSTRING: Python 2 str; torch's loader decodes them as latin-1 text as well
                case 'T' -> push(latin1(length(at, in.getInt() & 0xFFFFFFFFL)));
                case 'U' -> push(latin1(in.get() & 0xFF));
                case 'B' -> push(bytes(length(at, in.getInt() & 0xFFFFFFFFL))); // BINBYTES
                case 'C' -> push(bytes(in.get() & 0xFF)); // SHORT_BINBYTES
                case 0x8e -> push(bytes(length(at, in.getLong()))); // BINBYTES8
                case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                case 't' -> push(new Tuple(popMark(at))); // TUPLE
                case 0x85 -> push(tupleOf(at, 1)); // TUPLE1
                case 0x86 -> push(tupleOf(at, 2)); // TUPLE2
                case 0x87 -> push(tupleOf(at, 3)); // TUPLE3
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case 'l' -> push(new ArrayList<>(popMark(at))); // LIST
                case 'a' -> { Object v = pop(at); list(at, peek(at)).add(v); } // APPEND
                case 'e' -> { List<Object> vs = popMark(at); list(at, peek(at)).addAll(vs); } // APPENDS
                case '}' -> push(new LinkedHashMap<Object, Object>()); // EMPTY_DICT
                case 'd' -> { var d = new LinkedHashMap<Object, Object>(); putAll(at, d, popMark(at)); push(d); } // DICT
                case 's' -> { Object v = pop(at); Object k = pop(at); dict(at, peek(at)).put(k, v); } // SETITEM
                case 'u' -> { List<Object> kv = popMark(at); putAll(at, dict(at, peek(at)), kv); } // SETITEMS
                case 'q' -> memo.put((long) (in.get() & 0xFF), peek(at)); // BINPUT
                case 'r' -> memo.put(in.getInt() & 0xFFFFFFFFL, peek(at)); // LONG_BINPUT
                case 0x94 -> memo.put((long) memo.size(), peek(at)); // MEMOIZE
                case 'h' -> push(memoGet(at, in.get() & 0xFF)); // BINGET
                case 'j' -> push(memoGet(at, in.getInt() & 0xFFFFFFFFL)); // LONG_BINGET
                case 'c' -> push(global(at, line(at), line(at))); // GLOBAL "module\nname\n"
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(at), module = pop(at);
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw fail(at, "malformed STACK_GLOBAL: module and name must be strings");
                    }
                    push(global(at, m, n));
                }
                case 'Q' -> push(persistentLoad(at, pop(at))); // BINPERSID
                case 'R' -> { Object args = pop(at); Object f = pop(at); push(reduce(at, f, args)); } // REDUCE
                case 'b' -> { Object state = pop(at); build(at, peek(at), state); } // BUILD
                default -> {
                    String name = NAMES.get(op);
                    throw fail(at, name == null
                            ? String.format("unknown pickle opcode 0x%02x", op)
                            : "refused pickle opcode " + name + ": a checkpoint may hold only tensors, dicts and plain values");
                }
            }
        }
    }

    // --- the allow-listed semantics -------------------------------------------------------------------

    private Global global(int at, String module, String name) {
        Global g = new Global(module, name);
        if (CALLABLES.contains(g) || (module.equals("torch") && STORAGE_CLASS.matcher(name).matches())) return g;
        throw fail(at, "refused global " + g.qualified() + ": loading a checkpoint never runs code, and only "
                + "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_tensor, "
                + "torch._utils._rebuild_parameter and torch.*Storage types are accepted");
    }

    private Object reduce(int at, Object f, Object argsObj) {
        if (!(f instanceof Global g) || !CALLABLES.contains(g)) {
            throw fail(at, "refused REDUCE of " + describe(f) + ": only allow-listed tensor and dict constructors may be applied");
        }
        if (!(argsObj instanceof Tuple args)) throw fail(at, "malformed REDUCE of " + g + ": arguments are not a tuple");
        if (g.equals(ORDERED_DICT)) {
            // OrderedDict() or OrderedDict(iterable of pairs); torch writes the former and adds items via SETITEMS
            var d = new LinkedHashMap<Object, Object>();
            if (args.size() == 1 && args.get(0) instanceof List<?> pairs) {
                for (Object p : pairs) {
                    if (!(p instanceof Tuple t) || t.size() != 2) throw fail(at, "malformed OrderedDict argument: items must be pairs");
                    d.put(t.get(0), t.get(1));
                }
            } else if (args.size() != 0) {
                throw fail(at, "malformed OrderedDict call with " + args.size() + " arguments");
            }
            return d;
        }
        if (g.equals(REBUILD_PARAMETER)) {
            if (args.size() < 1 || !(args.get(0) instanceof TensorRef t)) throw fail(at, "malformed _rebuild_parameter: first argument is not a tensor");
            return t;
        }
        // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]) and
        // _rebuild_tensor(storage, offset, size, stride): requires_grad, hooks and metadata do not affect the values
        int min = g.equals(REBUILD_TENSOR_V2) ? 6 : 4, max = g.equals(REBUILD_TENSOR_V2) ? 7 : 4;
        if (args.size() < min || args.size() > max) throw fail(at, "malformed " + g + " call with " + args.size() + " arguments");
        if (!(args.get(0) instanceof StorageRef s)) throw fail(at, "malformed " + g + ": first argument is " + describe(args.get(0)) + ", not a storage");
        if (!(args.get(1) instanceof Long offset)) throw fail(at, "malformed " + g + ": storage offset is " + describe(args.get(1)));
        long[] size = longs(at, args.get(2), g + " size");
        long[] stride = longs(at, args.get(3), g + " stride");
        if (size.length != stride.length) {
            throw fail(at, "malformed " + g + ": size has " + size.length + " dimensions but stride has " + stride.length);
        }
        return new TensorRef(s, offset, size, stride);
    }

    private void build(int at, Object target, Object state) {
        // state_dict() attaches a `_metadata` attribute to its OrderedDict, pickled as BUILD with an attribute
        // dict. It sets attributes, not items, so it has no effect on the tensors: accept and drop it.
        if (target instanceof Map<?, ?> && (state == NONE || state instanceof Map<?, ?>)) return;
        throw fail(at, "refused BUILD of " + describe(target) + " with " + describe(state)
                + ": only a dict's attribute state is accepted");
    }

    private StorageRef persistentLoad(int at, Object pid) {
        if (pid instanceof Tuple t && t.size() == 5 && "storage".equals(t.get(0)) && t.get(1) instanceof Global type
                && type.module().equals("torch") && STORAGE_CLASS.matcher(type.name()).matches()
                && t.get(2) instanceof String key && t.get(3) instanceof String location && t.get(4) instanceof Long numel) {
            return new StorageRef(type.name(), key, location, numel);
        }
        throw fail(at, "refused persistent id " + describe(pid) + ": expected ('storage', torch.<Type>Storage, key, location, numel)");
    }

    // --- stack and data helpers ---------------------------------------------------------------------

    private void push(Object o) { stack.add(o); }

    private Object pop(int at) {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) throw fail(at, "malformed pickle: stack underflow");
        return stack.removeLast();
    }

    private Object peek(int at) {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) throw fail(at, "malformed pickle: stack underflow");
        return stack.getLast();
    }

    private List<Object> popMark(int at) {
        if (marks.isEmpty()) throw fail(at, "malformed pickle: no MARK");
        int from = marks.removeLast();
        List<Object> sub = stack.subList(from, stack.size());
        List<Object> items = new ArrayList<>(sub);
        sub.clear();
        return items;
    }

    private Tuple tupleOf(int at, int n) {
        Object[] items = new Object[n];
        for (int i = n - 1; i >= 0; i--) items[i] = pop(at);
        return new Tuple(List.of(items));
    }

    private Object memoGet(int at, long index) {
        Object v = memo.get(index);
        if (v == null) throw fail(at, "malformed pickle: memo slot " + index + " is empty");
        return v;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(int at, Object o) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw fail(at, "malformed pickle: APPEND to " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(int at, Object o) {
        if (o instanceof LinkedHashMap<?, ?> d) return (Map<Object, Object>) d;
        throw fail(at, "malformed pickle: SETITEM on " + describe(o));
    }

    private void putAll(int at, Map<Object, Object> d, List<Object> kv) {
        if (kv.size() % 2 != 0) throw fail(at, "malformed pickle: odd number of dict items");
        for (int i = 0; i < kv.size(); i += 2) d.put(kv.get(i), kv.get(i + 1));
    }

    private long[] longs(int at, Object o, String what) {
        if (!(o instanceof Tuple t)) throw fail(at, "malformed " + what + ": " + describe(o) + " is not a tuple");
        long[] r = new long[t.size()];
        for (int i = 0; i < r.length; i++) {
            if (!(t.get(i) instanceof Long v)) throw fail(at, "malformed " + what + ": " + describe(t.get(i)) + " is not an int");
            r[i] = v;
        }
        return r;
    }

    /** A length field, checked against the bytes actually left so that a lying length cannot allocate gigabytes. */
    private int length(int at, long n) {
        if (n < 0 || n > in.remaining()) throw fail(at, "pickle is truncated: a field of " + n + " bytes exceeds the " + in.remaining() + " left");
        return (int) n;
    }

    private byte[] bytes(int n) {
        if (n > in.remaining()) throw new java.nio.BufferUnderflowException();
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    private String utf8(int at, int n) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes(n))).toString();
        } catch (CharacterCodingException e) {
            throw fail(at, "malformed pickle: string is not valid UTF-8");
        }
    }

    private String latin1(int n) { return new String(bytes(n), StandardCharsets.ISO_8859_1); }

    /** A newline-terminated ASCII field of GLOBAL (at most 256 bytes: module paths are short). */
    private String line(int at) {
        StringBuilder sb = new StringBuilder();
        while (true) {
            byte b = in.get();
            if (b == '\n') return sb.toString();
            if (b < 0x20 || sb.length() >= 256) throw fail(at, "malformed GLOBAL name");
            sb.append((char) b);
        }
    }

    /** LONG1/LONG4: a little-endian two's-complement integer of {@code n} bytes. */
    private Object readLong(int at, int n) {
        if (n == 0) return 0L;
        byte[] le = bytes(n);
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = le[n - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /** A short description of a decoded value for error messages; never prints a whole structure. */
    static String describe(Object o) {
        return switch (o) {
            case null -> "nothing";
            case None n -> "None";
            case Global g -> g.qualified();
            case String s -> "str '" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
            case Long l -> "int " + l;
            case BigInteger b -> "int " + b;
            case Double d -> "float " + d;
            case Boolean b -> "bool " + b;
            case byte[] b -> "bytes of length " + b.length;
            case Tuple t -> "a tuple of " + t.size();
            case List<?> l -> "a list of " + l.size();
            case Map<?, ?> m -> "a dict of " + m.size();
            case StorageRef s -> "storage torch." + s.typeName();
            case TensorRef t -> "a tensor";
            default -> o.getClass().getSimpleName();
        };
    }

    private static Map<Integer, String> opcodeNames() {
        Map<Integer, String> m = new HashMap<>();
        String[][] table = {
            {"(", "MARK"}, {".", "STOP"}, {"0", "POP"}, {"1", "POP_MARK"}, {"2", "DUP"}, {"F", "FLOAT"}, {"I", "INT"},
            {"J", "BININT"}, {"K", "BININT1"}, {"L", "LONG"}, {"M", "BININT2"}, {"N", "NONE"}, {"P", "PERSID"},
            {"Q", "BINPERSID"}, {"R", "REDUCE"}, {"S", "STRING"}, {"T", "BINSTRING"}, {"U", "SHORT_BINSTRING"},
            {"V", "UNICODE"}, {"X", "BINUNICODE"}, {"a", "APPEND"}, {"b", "BUILD"}, {"c", "GLOBAL"}, {"d", "DICT"},
            {"}", "EMPTY_DICT"}, {"e", "APPENDS"}, {"g", "GET"}, {"h", "BINGET"}, {"i", "INST"}, {"j", "LONG_BINGET"},
            {"l", "LIST"}, {"]", "EMPTY_LIST"}, {"o", "OBJ"}, {"p", "PUT"}, {"q", "BINPUT"}, {"r", "LONG_BINPUT"},
            {"s", "SETITEM"}, {"t", "TUPLE"}, {")", "EMPTY_TUPLE"}, {"u", "SETITEMS"}, {"G", "BINFLOAT"},
            {"B", "BINBYTES"}, {"C", "SHORT_BINBYTES"},
        };
        for (String[] e : table) m.put((int) e[0].charAt(0), e[1]);
        String[] high = {"PROTO", "NEWOBJ", "EXT1", "EXT2", "EXT4", "TUPLE1", "TUPLE2", "TUPLE3", "NEWTRUE", "NEWFALSE",
            "LONG1", "LONG4", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES8", "EMPTY_SET", "ADDITEMS", "FROZENSET",
            "NEWOBJ_EX", "STACK_GLOBAL", "MEMOIZE", "FRAME", "BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER"};
        for (int i = 0; i < high.length; i++) m.put(0x80 + i, high[i]);
        return m;
    }
}
