package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void addBroadcastAndBackward() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor b = Tensor.of(new float[] {10, 20, 30}, 3);
        assertArrayEquals(new float[] {11, 22, 33, 14, 25, 36}, a.add(b).toFloatArray());
        a.requiresGrad(true);
        b.requiresGrad(true);
        a.mul(b).sum().backward();
        assertArrayEquals(new float[] {10, 20, 30, 10, 20, 30}, a.grad().toFloatArray());
        assertArrayEquals(new float[] {5, 7, 9}, b.grad().toFloatArray());
        System.out.println(a.matmul(b.reshape(3, 1)));
        assertEquals(140, a.matmul(b).get(0), 1e-4);
    }

    @Test
    void gradcheckSome() {
        Generator g = new Generator(1);
        GradCheck.check("tanh-mul", x -> x[0].tanh().mul(x[1]).softmax(-1), Tensor.randn(g, 3, 4).to(DType.F64), Tensor.randn(g, 4).to(DType.F64));
        GradCheck.check("matmul", x -> x[0].matmul(x[1]), Tensor.randn(g, 2, 3, 4).to(DType.F64), Tensor.randn(g, 4, 5).to(DType.F64));
        GradCheck.check("layernorm", x -> Functional.layerNorm(x[0], x[1], x[2], 1e-5),
                Tensor.randn(g, 3, 6).to(DType.F64), Tensor.randn(g, 6).to(DType.F64), Tensor.randn(g, 6).to(DType.F64));
    }
}
