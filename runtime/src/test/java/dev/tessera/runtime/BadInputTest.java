package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad inputs across the ops. The project's rules: a shape mismatch throws {@link IllegalArgumentException} naming
 * the op and both shapes; an index out of range throws {@link IndexOutOfBoundsException} with the index and the
 * bound; an unsupported dtype says which dtypes; a released tensor throws {@link IllegalStateException}. Each
 * case checks the type and the fragments its message must hold, then that the runtime still works.
 */
class BadInputTest {
    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IndexOutOfBoundsException> IOOBE = IndexOutOfBoundsException.class;
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;

    /** One bad input: the expected exception type and the fragments its message must contain. */
    record Case(Class<? extends Throwable> type, Executable action, String... fragments) {}

    private static Arguments c(String name, Class<? extends Throwable> type, Executable action, String... fragments) {
        return Arguments.of(Named.of(name, new Case(type, action, fragments)));
    }

    private static Tensor z(int... shape) { return Tensor.zeros(shape); }

    private static Tensor longs(long[] v, int... shape) { return Tensor.of(v, shape); }

    private static Tensor released(int... shape) {
        Tensor t = Tensor.ones(shape);
        t.close();
        return t;
    }

    static Stream<Arguments> cases() {
        Generator gen = new Generator(5);
        return Stream.of(
                // ---- broadcasting
                c("add broadcast mismatch", IAE, () -> z(2, 3).add(z(4)), "add", "[2, 3]", "[4]"),
                c("mul broadcast mismatch", IAE, () -> z(2, 3, 4).mul(z(3, 3)), "mul", "[2, 3, 4]", "[3, 3]"),
                c("sub broadcast mismatch", IAE, () -> z(5).sub(z(2, 4)), "sub", "[5]", "[2, 4]"),
                c("where shapes mismatch", IAE, () -> z(3).where(Tensor.of(new boolean[] {true, false}, 2), z(3)), "where", "[2]", "[3]"),
                // ---- matmul
                c("matmul inner dim", IAE, () -> z(2, 3).matmul(z(4, 5)), "matmul", "[2, 3]", "[4, 5]"),
                c("matmul vector inner dim", IAE, () -> z(3).matmul(z(4)), "matmul", "[3]", "[4]"),
                c("matmul vector-matrix inner dim", IAE, () -> z(3).matmul(z(4, 5)), "matmul", "[3]", "[4, 5]"),
                c("matmul matrix-vector inner dim", IAE, () -> z(2, 3).matmul(z(4)), "matmul", "[2, 3]", "[4]"),
                c("matmul batch dims mismatch", IAE, () -> z(2, 2, 3).matmul(z(3, 3, 4)), "matmul", "[2, 2, 3]", "[3, 3, 4]"),
                c("matmul of a scalar", IAE, () -> Tensor.scalar(1).matmul(z(3)), "matmul", "[]", "[3]"),
                c("matmul on integer tensors", IAE, () -> Tensor.arange(4).reshape(2, 2).matmul(Tensor.arange(4).reshape(2, 2)), "matmul", "I64"),
                // ---- reshape and views
                c("reshape to wrong numel", IAE, () -> z(2, 3).reshape(4, 2), "reshape", "[4, 2]", "[2, 3]"),
                c("reshape -1 that does not divide", IAE, () -> z(2, 3).reshape(-1, 4), "reshape", "[-1, 4]", "[2, 3]"),
                c("reshape with two -1", IAE, () -> z(2, 3).reshape(-1, -1), "reshape", "[-1, -1]", "[2, 3]"),
                c("reshape with a negative size", IAE, () -> z(2, 3).reshape(-2, -3), "reshape", "[-2, -3]", "[2, 3]"),
                c("view on non-viewable strides", IAE, () -> z(2, 3).t().view(6), "view", "[6]", "[3, 2]"),
                c("permute with a repeated dim", IAE, () -> z(2, 3).permute(0, 0), "permute", "[0, 0]", "[2, 3]"),
                c("permute with wrong dim count", IAE, () -> z(2, 3).permute(0), "permute", "[0]", "[2, 3]"),
                c("permute with a dim out of range", IOOBE, () -> z(2, 3).permute(0, 2), "permute", "dimension 2", "rank 2"),
                c("transpose dim out of range", IOOBE, () -> z(2, 3).transpose(0, 2), "transpose", "dimension 2", "rank 2"),
                c("t() of a 3-D tensor", IAE, () -> z(2, 3, 4).t(), "t", "[2, 3, 4]"),
                c("size dim out of range", IOOBE, () -> z(2, 3).size(-3), "size", "dimension -3", "rank 2"),
                c("sum dim out of range", IOOBE, () -> z(2, 3).sum(2), "sum", "dimension 2", "rank 2"),
                c("sum dim given twice", IAE, () -> z(2, 3).sum(new int[] {1, -1}, false), "sum", "dimension 1", "[1, -1]"),
                c("unsqueeze dim out of range", IOOBE, () -> z(2, 3).unsqueeze(4), "unsqueeze", "dimension 4", "rank 3"),
                c("flatten start after end", IAE, () -> z(2, 3, 4).flatten(2, 1), "flatten", "2", "1"),
                c("narrow past the end", IOOBE, () -> z(4, 5).narrow(1, 3, 3), "narrow", "start 3", "length 3", "size 5"),
                c("narrow negative start", IOOBE, () -> z(4, 5).narrow(0, -1, 2), "narrow", "start -1", "size 4"),
                c("select index out of range", IOOBE, () -> z(4, 5).select(0, 4), "select", "index 4", "size 4"),
                c("select negative index out of range", IOOBE, () -> z(4, 5).select(1, -6), "select", "index -6", "size 5"),
                c("select on a 0-d tensor", IOOBE, () -> Tensor.scalar(1).select(0, 0), "select", "dimension 0", "rank 0"),
                c("slice dim out of range", IOOBE, () -> z(4).slice(1, 0, 2, 1), "slice", "dimension 1", "rank 1"),
                c("slice with step 0", IAE, () -> z(4).slice(0, 0, 2, 0), "slice", "step", "0"),
                c("expand incompatible", IAE, () -> z(2, 3).expand(4, 3), "expand", "[2, 3]", "[4, 3]"),
                c("expand to fewer dims", IAE, () -> z(2, 3).expand(3), "expand", "[3]", "[2, 3]"),
                c("expand to a negative size", IAE, () -> z(1, 3).expand(-2, 3), "expand", "[-2, 3]", "[1, 3]"),
                // ---- combining
                c("cat with mismatched shapes", IAE, () -> Tensor.cat(List.of(z(2, 3), z(2, 4)), 0), "cat", "[2, 3]", "[2, 4]"),
                c("cat with mismatched ranks", IAE, () -> Tensor.cat(List.of(z(2, 3), z(3)), 0), "cat", "[2, 3]", "[3]"),
                c("cat of an empty list", IAE, () -> Tensor.cat(List.of(), 0), "cat", "no tensors"),
                c("cat dim out of range", IOOBE, () -> Tensor.cat(List.of(z(2, 3), z(2, 3)), 2), "cat", "dimension 2", "rank 2"),
                c("stack of different shapes", IAE, () -> Tensor.stack(List.of(z(2, 3), z(3, 2)), 0), "stack", "[2, 3]", "[3, 2]"),
                c("stack of an empty list", IAE, () -> Tensor.stack(List.of(), 0), "stack", "no tensors"),
                c("split size 0", IAE, () -> z(4).split(0, 0), "split", "size", "0"),
                c("chunk count 0", IAE, () -> z(4).chunk(0, 0), "chunk", "0"),
                c("pad with an odd count", IAE, () -> z(2, 3).pad(new int[] {1, 1, 1}, 0), "pad", "3 values", "[2, 3]"),
                c("pad more dims than the tensor has", IAE, () -> z(3).pad(new int[] {1, 1, 1, 1}, 0), "pad", "4 values", "[3]"),
                c("pad negative", IAE, () -> z(3).pad(new int[] {-1, 1}, 0), "pad", "negative", "[-1, 1]"),
                c("triu of a 1-D tensor", IAE, () -> z(3).triu(0), "triu", "[3]"),
                // ---- indexing
                c("embedding index out of range", IOOBE, () -> z(5, 4).embedding(longs(new long[] {1, 5}, 2)), "embedding", "index 5", "size 5"),
                c("embedding negative index", IOOBE, () -> z(5, 4).embedding(longs(new long[] {-1}, 1)), "embedding", "index -1", "size 5"),
                c("embedding float indices", IAE, () -> z(5, 4).embedding(z(2)), "embedding", "F32"),
                c("embedding table not 2-D", IAE, () -> z(5).embedding(longs(new long[] {1}, 1)), "embedding", "[5]"),
                c("indexSelect with 2-D index", IAE, () -> z(5, 4).indexSelect(0, longs(new long[] {0, 1, 2, 3}, 2, 2)), "index_select", "[2, 2]"),
                c("indexSelect index out of range", IOOBE, () -> z(5, 4).indexSelect(1, longs(new long[] {4}, 1)), "index_select", "index 4", "size 4"),
                c("gather index shape mismatch", IAE, () -> z(3, 4).gather(1, longs(new long[] {0, 0}, 2, 1)), "gather", "[2, 1]", "[3, 4]"),
                c("gather index rank mismatch", IAE, () -> z(3, 4).gather(1, longs(new long[] {0, 0, 0}, 3)), "gather", "[3]", "[3, 4]"),
                c("gather index out of range", IOOBE, () -> z(3, 4).gather(1, longs(new long[] {0, 4, 0}, 3, 1)), "gather", "index 4", "size 4"),
                c("scatterAdd source shape mismatch", IAE,
                        () -> z(3, 4).scatterAdd(1, longs(new long[] {0, 1, 2}, 3, 1), z(3, 2)), "scatter_add", "[3, 1]", "[3, 2]"),
                c("scatterAdd index out of range", IOOBE,
                        () -> z(3, 4).scatterAdd(0, longs(new long[] {0, 3, 0, 0}, 1, 4), z(1, 4)), "scatter_add", "index 3", "size 3"),
                // ---- nn functions
                c("crossEntropy target out of range", IOOBE,
                        () -> Functional.crossEntropy(z(2, 3), longs(new long[] {0, 3}, 2)), "cross_entropy", "target 3", "3 classes"),
                c("crossEntropy negative target", IOOBE,
                        () -> Functional.crossEntropy(z(2, 3), longs(new long[] {-1, 0}, 2)), "cross_entropy", "target -1", "3 classes"),
                c("crossEntropy logits/targets shapes", IAE,
                        () -> Functional.crossEntropy(z(2, 3), longs(new long[] {0, 1, 2}, 3)), "cross_entropy", "[2, 3]", "[3]"),
                c("crossEntropy float targets", IAE, () -> Functional.crossEntropy(z(2, 3), z(2)), "cross_entropy", "F32"),
                c("layerNorm weight of wrong size", IAE, () -> Functional.layerNorm(z(2, 4), z(3), null, 1e-5), "layer_norm", "[3]", "[2, 4]"),
                c("layerNorm bias of wrong size", IAE, () -> Functional.layerNorm(z(2, 4), z(4), z(2, 4), 1e-5), "layer_norm", "[2, 4]"),
                c("rmsNorm on an integer tensor", IAE, () -> Functional.rmsNorm(Tensor.of(new int[] {1, 2}, 2), null, 1e-5), "rms_norm", "I32"),
                c("causalConv1d x not 3-D", IAE, () -> Functional.causalConv1d(z(2, 3), z(3, 2), null), "causal_conv1d", "[2, 3]"),
                c("causalConv1d weight not 2-D", IAE, () -> Functional.causalConv1d(z(1, 4, 3), z(3), null), "causal_conv1d", "[3]", "[1, 4, 3]"),
                c("causalConv1d bias of wrong size", IAE, () -> Functional.causalConv1d(z(1, 4, 3), z(3, 2), z(2)), "causal_conv1d", "[2]", "[3]"),
                c("softmax dim out of range", IOOBE, () -> z(2, 3).softmax(2), "softmax", "dimension 2", "rank 2"),
                c("logSoftmax dim out of range", IOOBE, () -> z(2, 3).logSoftmax(-3), "log_softmax", "dimension -3", "rank 2"),
                c("softmax of an integer tensor", IAE, () -> Tensor.arange(3).softmax(0), "softmax", "I64"),
                c("dropout p above 1", IAE, () -> Functional.dropout(z(3), 1.5, gen, true), "dropout", "1.5"),
                c("dropout p below 0", IAE, () -> Functional.dropout(z(3), -0.1, gen, true), "dropout", "-0.1"),
                c("dropout p NaN", IAE, () -> Functional.dropout(z(3), Double.NaN, gen, true), "dropout", "NaN"),
                // ---- creation and reading
                c("Tensor.of with wrong element count", IAE, () -> Tensor.of(new float[] {1, 2, 3}, 2, 2), "of", "3 values", "[2, 2]"),
                c("Tensor.of long[] with wrong element count", IAE, () -> Tensor.of(new long[] {1}, 2), "of", "1 values", "[2]"),
                c("zeros with a negative shape", IAE, () -> Tensor.zeros(2, -1), "zeros", "[2, -1]"),
                c("full with a negative shape", IAE, () -> Tensor.full(1, DType.F64, -3), "full", "[-3]"),
                c("rand with a negative shape", IAE, () -> Tensor.rand(gen, 4, -4), "rand", "[4, -4]"),
                c("arange step 0", IAE, () -> Tensor.arange(0, 5, 0, DType.I64), "arange", "step"),
                c("randint empty range", IAE, () -> Tensor.randint(gen, 5, 5, 3), "randint", "[5, 5)"),
                c("clamp min > max", IAE, () -> z(2).clamp(1, 0), "clamp", "1.0", "0.0"),
                c("where with a non-BOOL condition", IAE, () -> z(2).where(z(2), z(2)), "where", "F32", "BOOL"),
                c("bernoulli of integer probabilities", IAE, () -> Tensor.bernoulli(gen, Tensor.arange(2)), "bernoulli", "I64"),
                c("item on a multi-element tensor", IAE, () -> z(2, 2).item(), "item", "[2, 2]", "4 elements"),
                c("get with too few indices", IAE, () -> z(2, 3).get(1), "get", "1 indices", "rank 2"),
                c("get index out of range", IOOBE, () -> z(2, 3).get(1, 3), "get", "index 3", "size 3"),
                c("get negative index", IOOBE, () -> z(2, 3).get(-1, 0), "get", "index -1", "size 2"),
                c("mean over an empty dim", IAE, () -> z(0, 3).mean(0), "mean", "[0, 3]"),
                c("max of an empty tensor", IAE, () -> z(0).max(), "max", "[0]"),
                c("var with too few elements", IAE, () -> z(1).var(new int[] {0}, true, false), "var", "1 elements"),
                c("setOffset negative", IAE, () -> new Generator(1).setOffset(-1), "offset", "-1"),
                // ---- autograd
                c("requiresGrad on an integer tensor", IAE, () -> Tensor.arange(3).requiresGrad(true), "requiresGrad", "I64"),
                c("requiresGrad(false) on a non-leaf", ISE, () -> z(2).requiresGrad(true).mul(2).requiresGrad(false), "requiresGrad", "detach"),
                c("backward on a non-scalar without gradient", IAE, () -> z(2, 3).requiresGrad(true).mul(2).backward(), "backward", "[2, 3]"),
                c("backward with a gradient of the wrong shape", IAE,
                        () -> z(2, 3).requiresGrad(true).mul(2).backward(z(3, 2)), "backward", "[3, 2]", "[2, 3]"),
                c("backward on a tensor needing no grad", ISE, () -> z(2).sum().backward(), "backward", "require"),
                c("in-place add on a tensor requiring grad", ISE, () -> z(2).requiresGrad(true).addInPlace(z(2)), "addInPlace", "requires grad"),
                c("in-place add needing the target broadcast", IAE, () -> z(3).addInPlace(z(2, 3)), "addInPlace", "[2, 3]", "[3]"),
                c("copyFrom needing the target broadcast", IAE, () -> z(3).copyFrom(z(2, 3)), "copyFrom", "[2, 3]", "[3]"),
                c("in-place mul broadcast mismatch", IAE, () -> z(2, 3).mulInPlace(z(2)), "mulInPlace", "[2, 3]", "[2]"),
                // ---- released tensors
                c("add after close()", ISE, () -> released(2).add(z(2)), "add", "released"),
                c("add with a released right operand", ISE, () -> z(2).add(released(2)), "add", "released"),
                c("item after close()", ISE, () -> released(1).item(), "item", "released"),
                c("get after close()", ISE, () -> released(2, 2).get(0, 0), "get", "released"),
                c("reshape after close()", ISE, () -> released(2, 2).reshape(4), "reshape", "released"),
                c("transpose after close()", ISE, () -> released(2, 2).transpose(0, 1), "released"),
                c("matmul after close()", ISE, () -> z(2, 2).matmul(released(2, 2)), "matmul", "released"),
                c("sum after close()", ISE, () -> released(3).sum(), "sum", "released"),
                c("backward after close()", ISE, () -> {
                    Tensor l = z(2).requiresGrad(true).sum();
                    l.close();
                    l.backward();
                }, "backward", "released"),
                c("use after scope close", ISE, () -> {
                    Tensor t;
                    try (Scope s = Scope.open()) {
                        t = Tensor.ones(3);
                    }
                    t.mul(t);
                }, "mul", "released"),
                c("where with a released operand", ISE,
                        () -> z(2).where(Tensor.of(new boolean[] {true, false}, 2), released(2)), "where", "released"),
                c("layerNorm with a released weight", ISE, () -> Functional.layerNorm(z(2, 4), released(4), null, 1e-5), "layer_norm", "released"),
                c("causalConv1d with a released bias", ISE,
                        () -> Functional.causalConv1d(z(1, 4, 3), z(3, 2), released(3)), "causal_conv1d", "released"),
                c("embedding with released indices", ISE, () -> z(5, 4).embedding(released(2)), "released"),
                c("crossEntropy with released logits", ISE,
                        () -> Functional.crossEntropy(released(2, 3), longs(new long[] {0, 1}, 2)), "cross_entropy", "released"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void badInputThrowsAClearError(Case k) {
        boolean gradWasEnabled = Grad.isEnabled();
        long liveBefore = MemoryStats.cpuLiveBytes();
        try (Scope s = Scope.open()) {
            Throwable e = assertThrows(Throwable.class, k.action());
            assertEquals(k.type(), e.getClass(), () -> "wrong exception type: " + e);
            String msg = e.getMessage();
            assertTrue(msg != null && !msg.isBlank(), "empty message");
            for (String f : k.fragments()) {
                assertTrue(msg.contains(f), () -> "message '" + msg + "' should mention '" + f + "'");
            }
        }
        // The runtime is still fine: no scope or no-grad region left open, memory released, ops still work.
        assertEquals(gradWasEnabled, Grad.isEnabled(), "a failed op left a no-grad region open");
        Tensor probe = Tensor.ones(2, 2);
        assertNull(probe.owner, "a failed op left a scope open");
        probe.close();
        try (Scope s = Scope.open()) {
            assertEquals(8.0, Tensor.ones(2, 2).add(1).sum().item(), 0);
        }
        assertTrue(MemoryStats.cpuLiveBytes() <= liveBefore + 64, "a failed op leaked native memory");
    }

    @Test
    void thereAreEnoughCases() {
        assertTrue(cases().count() >= 35);
    }
}
