package dev.tessera.models.hnet;

import dev.tessera.models.ByteLanguageModel;
import dev.tessera.nn.ForwardFlops;
import dev.tessera.nn.Module;
import dev.tessera.nn.Optimizer;
import dev.tessera.runtime.Generator;
import dev.tessera.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/** {@link HNetLM} seen as a {@link ByteLanguageModel}: per-stage learning-rate multipliers of H-Net App. C. */
public final class HNetByteModel implements ByteLanguageModel {
    private final HNetLM model;

    public HNetByteModel(HNetConfig config, Generator gen) { this.model = new HNetLM(config, gen); }

    public HNetLM model() { return model; }

    @Override public Module module() { return model; }

    @Override public ForwardFlops forwardFlops(int length, double[] bytesPerChunk) { return model.forwardFlops(length, bytesPerChunk); }

    @Override
    public Decoder newDecoder(int batch, int maxLength) {
        HNet.StageState state = model.newDecodeState(batch, maxLength);
        return new Decoder() {
            @Override public Tensor step(Tensor bytes) { return model.step(bytes, state); }

            @Override
            public Tensor prefill(long[][] rows) {
                return ByteLanguageModel.lastLogits(rows, batch, maxLength, (r, bytes) -> model.prefill(bytes, state, r));
            }

            @Override public void close() { state.close(); }
        };
    }

    @Override public String family() { return "hnet"; }

    @Override public String configJson() { return model.config().toJson(); }

    @Override public int stages() { return model.config().stages(); }

    @Override
    public Prediction forward(Tensor bytes) {
        HNetLM.Output out = model.forward(bytes);
        List<Tensor> p = new ArrayList<>(), b = new ArrayList<>();
        for (HNet.StageRouting r : out.routings()) {
            p.add(r.p());
            b.add(r.b());
        }
        return new Prediction(out.logits(), p, b);
    }

    @Override
    public TrainingLoss loss(Tensor inputs, Tensor targets) {
        HNetLM.Loss l = model.loss(inputs, targets);
        return new TrainingLoss(l.total(), l.crossEntropy(), l.bytesPerChunk());
    }

    @Override
    public List<Optimizer.Group> parameterGroups() { return model.parameterGroups(HNetLM.lrMultipliers(model.config())); }
}
