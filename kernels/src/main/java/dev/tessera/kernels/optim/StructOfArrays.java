package dev.tessera.kernels.optim;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The bytes of a kernel's struct argument laid out as parallel arrays of 8-byte words ({@code struct { long long
 * a[CAP], b[CAP], …; }} in C): word f of entry i at byte (f·capacity + i)·8; unused entries are zero. Doubles go in as
 * their raw bits.
 */
final class StructOfArrays {
    private StructOfArrays() {}

    static byte[] pack(int capacity, List<long[]> entries) {
        if (entries.size() > capacity) throw new IllegalArgumentException(entries.size() + " entries for a struct of " + capacity);
        int fields = entries.isEmpty() ? 0 : entries.get(0).length;
        ByteBuffer b = ByteBuffer.allocate(fields * capacity * 8).order(ByteOrder.nativeOrder());
        for (int i = 0; i < entries.size(); i++) {
            long[] e = entries.get(i);
            for (int f = 0; f < fields; f++) b.putLong((f * capacity + i) * 8, e[f]);
        }
        return b.array();
    }
}
