package dev.tessera.nn;

import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Scope;
import dev.tessera.runtime.Tensor;
import java.util.List;

/** Stochastic gradient descent with optional momentum: b ← μb + g, p ← p − lr·b (PyTorch's convention). */
public final class Sgd extends Optimizer {
    private final double momentum;

    public Sgd(List<Group> groups, double lr, double momentum) {
        super(groups, lr);
        if (momentum < 0 || momentum >= 1) throw new IllegalArgumentException("SGD: momentum must be in [0, 1), got " + momentum);
        this.momentum = momentum;
    }

    @Override
    public void step() {
        step++;
        try (Grad.Region ng = Grad.noGrad()) {
            for (Group g : groups) {
                double glr = lr * g.lrMultiplier();
                for (var e : entries(g)) {
                    Parameter p = e.getValue();
                    Tensor grad = p.grad();
                    if (grad == null) continue;
                    try (Scope s = Scope.open()) {
                        Tensor update = grad;
                        if (momentum > 0) {
                            Tensor buf = stateFor("momentum_buffer." + e.getKey(), p);
                            buf.affineInPlace(momentum, 0).addInPlace(grad);
                            update = buf;
                        }
                        p.value().addInPlace(update.mul(-glr));
                    }
                }
            }
        }
    }
}
