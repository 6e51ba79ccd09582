package dev.tessera.runtime;

import static dev.tessera.runtime.Expect.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Creation (of, full, arange, eye), dtype conversions (BF16 round-to-nearest-even), item/get and toString. */
class TensorBasicsTest {
    @Test
    void ofAndFull() {
        Tensor f = Tensor.of(new float[] {1.5f, -2}, 2);
        assertEquals(DType.F32, f.dtype());
        assertArrayEquals(new float[] {1.5f, -2}, f.toFloatArray());
        assertEquals(DType.F64, Tensor.of(new double[] {1}, 1).dtype());
        assertEquals(DType.I32, Tensor.of(new int[] {1}, 1).dtype());
        assertEquals(DType.I64, Tensor.of(new long[] {1}, 1).dtype());
        assertEquals(DType.BOOL, Tensor.of(new boolean[] {true}, 1).dtype());
        Tensor u8 = Tensor.ofBytes(new byte[] {(byte) 200, 7}, 2);
        assertEquals(DType.U8, u8.dtype());
        assertArrayEquals(new long[] {200, 7}, u8.toLongArray());
        assertArrayEquals(new long[] {Long.MAX_VALUE, Long.MIN_VALUE}, Tensor.of(new long[] {Long.MAX_VALUE, Long.MIN_VALUE}, 2).toLongArray());
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[] {1, 2, 3}, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(-1, 2));
        Tensor full = Tensor.full(2.5, DType.F64, 2, 3);
        values(full, new int[] {2, 3}, new double[] {2.5, 2.5, 2.5, 2.5, 2.5, 2.5}, 0);
        values(Tensor.full(-3, DType.I32, 2), new double[] {-3, -3}, 0);
        values(Tensor.full(1, DType.BOOL, 2), new double[] {1, 1}, 0);
        values(Tensor.zeros(DType.BF16, 3), new double[] {0, 0, 0}, 0);
        values(Tensor.ones(DType.F16, 2), new double[] {1, 1}, 0);
        values(Tensor.ones(2, 2), new double[] {1, 1, 1, 1}, 0);
        Tensor s = Tensor.scalar(4);
        Expect.shape(s);
        assertEquals(1, s.numel());
        assertEquals(0, s.dim());
        assertEquals(4, s.item(), 0);
        assertEquals(DType.I64, Tensor.scalar(7, DType.I64).dtype());
        Expect.shape(Tensor.zeros(0, 3), 0, 3);
        assertEquals(0, Tensor.zeros(0, 3).numel());
    }

    @Test
    void arange() {
        Tensor a = Tensor.arange(5);
        assertEquals(DType.I64, a.dtype());
        assertArrayEquals(new long[] {0, 1, 2, 3, 4}, a.toLongArray());
        values(Tensor.arange(0, 1, 0.25, DType.F32), new int[] {4}, new double[] {0, 0.25, 0.5, 0.75}, 0);
        values(Tensor.arange(1, 2.5, 0.5, DType.F64), new double[] {1, 1.5, 2}, 0);
        assertArrayEquals(new long[] {5, 3, 1}, Tensor.arange(5, 0, -2, DType.I64).toLongArray());
        assertArrayEquals(new int[] {-2, -1, 0}, Tensor.arange(-2, 1, 1, DType.I32).toIntArray());
        Expect.shape(Tensor.arange(3, 3, 1, DType.F32), 0);
        Expect.shape(Tensor.arange(3, 0, 1, DType.F32), 0);
        Expect.shape(Tensor.arange(0), 0);
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(0, 1, 0, DType.F32));
    }

    @Test
    void eye() {
        values(Tensor.eye(3), new int[] {3, 3}, new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1}, 0);
        assertEquals(DType.F32, Tensor.eye(2).dtype());
        Tensor e = Tensor.eye(2, DType.I64);
        assertArrayEquals(new long[] {1, 0, 0, 1}, e.toLongArray());
        Expect.shape(Tensor.eye(0), 0, 0);
        // I · A = A
        Tensor m = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 3);
        values(Tensor.eye(3, DType.F64).matmul(m), m.toDoubleArray(), 0);
    }

    @Test
    void itemAndGet() {
        Tensor x = Tensor.of(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertEquals(6, x.get(1, 2), 0);
        assertEquals(2, x.get(0, 1), 0);
        // through views: get honours strides and offsets
        assertEquals(2, x.t().get(1, 0), 0);
        assertEquals(6, x.narrow(1, 1, 2).get(1, 1), 0);
        assertEquals(5, x.slice(1, 0, 3, 2).t().get(1, 0) + 2, 0); // x[0][2] = 3, plus 2
        assertEquals(4, x.expand(2, 2, 3).get(1, 1, 0), 0);
        assertEquals(5, x.select(0, 1).get(1), 0);
        assertEquals(3, x.narrow(1, 2, 1).narrow(0, 0, 1).item(), 0);
        assertEquals(7, Tensor.of(new long[] {7}, 1, 1).item(), 0);
        assertEquals(1, Tensor.of(new boolean[] {true}, 1).item(), 0);
        assertEquals(200, Tensor.ofBytes(new byte[] {(byte) 200}, 1).item(), 0);
        assertThrows(IllegalArgumentException.class, x::item);
        assertThrows(IndexOutOfBoundsException.class, () -> x.get(2, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> x.get(0, -1));
        assertThrows(IllegalArgumentException.class, () -> x.get(0));
        assertEquals(3, x.size(-1));
        assertEquals(2, x.size(0));
        assertEquals(6, x.numel());
    }

    // ------------------------------------------------------------ dtype conversions

    /** The BF16 value of a float with round-to-nearest-even, computed on the bits by hand. */
    private static float bf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int upper = bits >>> 16, lower = bits & 0xFFFF;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) upper++;
        return Float.intBitsToFloat(upper << 16);
    }

    @Test
    void bf16RoundsToNearestEven() {
        // BF16 keeps 7 fraction bits: near 1 the step is 2^-7
        float[] in = {
            1f,
            1f + 0x1p-8f,             // exactly half way between 1 and 1+2^-7: ties to even -> 1
            1f + 3 * 0x1p-8f,         // half way between 1+2^-7 (odd) and 1+2^-6 (even) -> 1+2^-6
            1f + 0x1p-8f + 0x1p-20f,  // just above half way -> 1+2^-7
            1f + 0x1p-8f - 0x1p-20f,  // just below half way -> 1
            -(1f + 3 * 0x1p-8f),      // sign does not change the rounding
            3.14159265f,
            65504f, 1e-3f, -2.5f, 0f,
        };
        float[] want = {
            1f, 1f, 1f + 0x1p-6f, 1f + 0x1p-7f, 1f, -(1f + 0x1p-6f),
            3.140625f, 65536f, bf16(1e-3f), -2.5f, 0f,
        };
        Tensor b = Tensor.of(in, in.length).to(DType.BF16);
        assertEquals(DType.BF16, b.dtype());
        assertArrayEquals(want, b.toFloatArray());
        for (int i = 0; i < in.length; i++) assertEquals(bf16(in[i]), want[i], "hand oracle for " + in[i]);
        // overflow to infinity, infinities and NaN survive
        Tensor special = Tensor.of(new float[] {Float.MAX_VALUE, Float.NEGATIVE_INFINITY, Float.NaN}, 3).to(DType.BF16);
        float[] sv = special.toFloatArray();
        assertEquals(Float.POSITIVE_INFINITY, sv[0]);
        assertEquals(Float.NEGATIVE_INFINITY, sv[1]);
        assertTrue(Float.isNaN(sv[2]));
        // from F64 too
        assertArrayEquals(new float[] {1f, 1f + 0x1p-6f}, Tensor.of(new double[] {1 + 0x1p-8, 1 + 3 * 0x1p-8}, 2).to(DType.BF16).toFloatArray());
    }

    @Test
    void f16Conversion() {
        // F16 keeps 10 fraction bits: near 1 the step is 2^-10
        Tensor h = Tensor.of(new float[] {1f + 0x1p-11f, 1f + 3 * 0x1p-11f, 65504f, 70000f, 0x1p-24f, -0.5f}, 6).to(DType.F16);
        assertEquals(DType.F16, h.dtype());
        assertArrayEquals(new float[] {1f, 1f + 0x1p-9f, 65504f, Float.POSITIVE_INFINITY, 0x1p-24f, -0.5f}, h.toFloatArray());
        values(h.to(DType.F32), new double[] {1, 1 + 0x1p-9, 65504, Double.POSITIVE_INFINITY, 0x1p-24, -0.5}, 0);
        // BF16 with F16 promotes to F32
        Tensor sum = Tensor.of(new float[] {1}, 1).to(DType.BF16).add(Tensor.of(new float[] {2}, 1).to(DType.F16));
        assertEquals(DType.F32, sum.dtype());
        values(sum, new double[] {3}, 0);
        // arithmetic on BF16 rounds its result back to BF16
        Tensor bsum = Tensor.of(new float[] {1}, 1).to(DType.BF16).add(Tensor.of(new float[] {0x1p-8f}, 1).to(DType.BF16));
        assertEquals(DType.BF16, bsum.dtype());
        values(bsum, new double[] {1}, 0);
    }

    @Test
    void integerAndBoolConversions() {
        Tensor f = Tensor.of(new float[] {2.7f, -2.7f, 0f, 255f, 3.2f, -0.5f}, 6);
        assertArrayEquals(new int[] {2, -2, 0, 255, 3, 0}, f.to(DType.I32).toIntArray()); // truncation toward zero
        assertArrayEquals(new long[] {2, -2, 0, 255, 3, 0}, f.to(DType.I64).toLongArray());
        Tensor u = Tensor.of(new float[] {0, 1.9f, 255}, 3).to(DType.U8);
        assertEquals(DType.U8, u.dtype());
        assertArrayEquals(new long[] {0, 1, 255}, u.toLongArray());
        Tensor b = f.to(DType.BOOL);
        assertEquals(DType.BOOL, b.dtype());
        assertArrayEquals(new long[] {1, 1, 0, 1, 1, 1}, b.toLongArray());
        values(Tensor.of(new boolean[] {true, false}, 2).to(DType.F32), new double[] {1, 0}, 0);
        values(Tensor.of(new boolean[] {true, false}, 2).to(DType.I64), new double[] {1, 0}, 0);
        assertArrayEquals(new long[] {1, 0, 1}, Tensor.of(new long[] {5, 0, -3}, 3).to(DType.BOOL).toLongArray());
        // I64 <-> F64 exact for 2^53; I64 -> I32 keeps small values
        long big = 1L << 53;
        assertEquals((double) big, Tensor.of(new long[] {big}, 1).to(DType.F64).item(), 0);
        assertArrayEquals(new int[] {-7, 42}, Tensor.of(new long[] {-7, 42}, 2).to(DType.I32).toIntArray());
        assertArrayEquals(new long[] {200}, Tensor.ofBytes(new byte[] {(byte) 200}, 1).to(DType.I64).toLongArray());
        assertArrayEquals(new long[] {big + 1}, Tensor.of(new long[] {big + 1}, 1).to(DType.I64).toLongArray());
        // F64 -> F32 rounds
        assertEquals((float) 0.1, Tensor.of(new double[] {0.1}, 1).to(DType.F32).toFloatArray()[0]);
        // conversion of a non-contiguous view
        Tensor t = Tensor.of(new double[] {1.5, 2.5, 3.5, 4.5}, 2, 2).t().to(DType.I32);
        assertArrayEquals(new int[] {1, 3, 2, 4}, t.toIntArray());
        // to(same dtype) is a view of the same data
        Tensor same = f.to(DType.F32);
        assertTrue(same.sharesStorageWith(f));
        // gradients flow through floating conversions
        Tensor x = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        x.to(DType.F32).mul(3).sum().backward();
        assertEquals(DType.F64, x.grad().dtype());
        values(x.grad(), new double[] {3, 3}, 0);
    }

    // ------------------------------------------------------------ toString

    @Test
    void toStringSmall() {
        Tensor x = Tensor.of(new float[] {1, 2.5f, -3, 0}, 2, 2);
        assertEquals("tensor([[1.0000, 2.5000],\n        [-3.0000, 0.0000]], shape=[2, 2], dtype=F32)", x.toString());
        assertEquals("tensor([1, 2, 3], shape=[3], dtype=I64)", Tensor.of(new long[] {1, 2, 3}, 3).toString());
        assertEquals("tensor([true, false], shape=[2], dtype=BOOL)", Tensor.of(new boolean[] {true, false}, 2).toString());
        assertEquals("tensor(4.0000, shape=[], dtype=F32)", Tensor.scalar(4).toString());
        Tensor r = Tensor.of(new double[] {1}, 1).requiresGrad(true);
        assertTrue(r.toString().endsWith("requires_grad)"), r.toString());
        assertTrue(r.mul(2).toString().contains("grad_fn=mul_scalar"), r.mul(2).toString());
        Tensor closed = Tensor.zeros(2);
        closed.close();
        assertEquals("tensor(<released>, shape=[2], dtype=F32)", closed.toString());
    }

    @Test
    void toStringAbbreviatesLargeTensors() {
        String s = Tensor.arange(2000).toString();
        assertEquals("tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=[2000], dtype=I64)", s);
        // 2-D: first and last three rows and columns
        Tensor m = Tensor.arange(0, 40 * 40, 1, DType.I32).reshape(40, 40);
        String ms = m.toString();
        String[] lines = ms.split("\n");
        assertEquals(7, lines.length, ms); // 3 rows, the ellipsis row, 3 rows
        assertEquals("tensor([[0, 1, 2, ..., 37, 38, 39],", lines[0]);
        assertEquals("        [40, 41, 42, ..., 77, 78, 79],", lines[1]);
        assertEquals("        ...,", lines[3]);
        assertEquals("        [1560, 1561, 1562, ..., 1597, 1598, 1599]], shape=[40, 40], dtype=I32)", lines[6]);
        // the threshold: 1000 elements print in full, 1001 are abbreviated
        assertFalse(Tensor.zeros(1000).toString().contains("..."));
        assertTrue(Tensor.zeros(1001).toString().contains("..."));
        // a transposed large view prints its own (transposed) values
        String ts = m.t().toString();
        assertTrue(ts.startsWith("tensor([[0, 40, 80, ..., 1480, 1520, 1560],"), ts);
    }
}
