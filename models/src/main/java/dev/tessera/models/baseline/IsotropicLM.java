package dev.tessera.models.baseline;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.nn.Embedding;
import dev.tessera.nn.Init;
import dev.tessera.nn.Isotropic;
import dev.tessera.nn.Linear;
import dev.tessera.nn.Mixer;
import dev.tessera.nn.Module;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Functional;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Grad;
import dev.tessera.runtime.Tensor;
import java.util.List;

/**
 * A byte-level baseline without dynamic chunking: {@code embeddings} (256 → D, N(0, 1)) → one isotropic stack
 * {@code backbone} → {@code lm_head} (D → 256, N(0, 0.02)). With layout "T…" it is a byte-level Transformer, with
 * "m…" a byte-level Mamba-2 LM — the isotropic models H-Net is compared against (arXiv 2507.07955 §3).
 */
public final class IsotropicLM extends Module implements ByteLanguageModel {
    private final IsotropicConfig config;
    private final Embedding embeddings;
    private final Isotropic backbone;
    private final Linear lmHead;

    public IsotropicLM(IsotropicConfig config, Generator gen) {
        this.config = config;
        this.embeddings = module("embeddings", new Embedding(256, config.dModel(), gen));
        this.backbone = module("backbone", new Isotropic(config.layout(), new Isotropic.Config(config.dModel(), config.dIntermediate(),
                config.numHeads(), config.rotaryDim(), config.window(), config.dState(), config.dConv(), config.expand(), config.headDim(), 1), gen));
        this.lmHead = module("lm_head", new Linear(config.dModel(), 256, false, gen));
        Init.normal(lmHead.weight(), gen, 0.02);
        backbone.initWeights(gen, backbone.height());
    }

    public IsotropicConfig config() { return config; }

    @Override public Module module() { return this; }

    @Override
    public Decoder newDecoder(int batch, int maxLength) {
        List<Mixer.DecodeState> state = backbone.newState(batch, maxLength);
        return new Decoder() {
            @Override
            public Tensor step(Tensor bytes) {
                try (Grad.Region g = Grad.noGrad()) {
                    int b = bytes.size(0);
                    return lmHead.forward(backbone.step(embeddings.forward(bytes.reshape(b, 1)), state)).reshape(b, 256);
                }
            }

            @Override
            public Tensor prefill(long[][] rows) {
                return ByteLanguageModel.lastLogits(rows, batch, maxLength, (r, bytes) -> {
                    try (Grad.Region g = Grad.noGrad()) {
                        int l = bytes.size(0);
                        return lmHead.forward(backbone.prefill(embeddings.forward(bytes.reshape(1, l)), state, r)).reshape(l, 256);
                    }
                });
            }

            @Override public void close() { state.forEach(Mixer.DecodeState::close); }
        };
    }

    @Override public String family() { return "isotropic"; }

    @Override public String configJson() { return config.toJson(); }

    @Override public int stages() { return 0; }

    @Override
    public Prediction forward(Tensor bytes) {
        if (bytes.dim() != 2) throw new IllegalArgumentException("isotropic LM: input must be bytes [B, L], got " + java.util.Arrays.toString(bytes.shape()));
        return new Prediction(lmHead.forward(backbone.forward(embeddings.forward(bytes))), List.of(), List.of());
    }

    @Override
    public TrainingLoss loss(Tensor inputs, Tensor targets) {
        Tensor ce = Functional.crossEntropy(forward(inputs).logits(), targets);
        return new TrainingLoss(ce, ce, new double[0]);
    }

    @Override
    public List<Optimizer.Group> parameterGroups() { return Optimizer.allOf(this); }

    @Override
    public void close() { super.close(); }
}
