package dev.tessera.models.hnet;

import dev.tessera.nn.Linear;
import dev.tessera.nn.Module;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;

/**
 * H-Net's routing projections (arXiv 2507.07955 eq. 4): q = W_q·x̂ and k = W_k·x̂, both identity-initialised and
 * left out of the model's re-initialisation; the cosine between q_{t−1} and k_t becomes the boundary probability.
 */
final class RoutingModule extends Module {
    final Linear qProj, kProj;

    RoutingModule(int dim, Generator gen) {
        this.qProj = module("q_proj_layer", new Linear(dim, dim, false, gen));
        this.kProj = module("k_proj_layer", new Linear(dim, dim, false, gen));
        Tensor eye = Tensor.eye(dim);
        qProj.weight().set(eye);
        kProj.weight().set(eye);
        eye.close();
    }
}
