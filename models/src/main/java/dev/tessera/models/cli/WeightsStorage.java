package dev.tessera.models.cli;

import dev.tessera.runtime.DType;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code --weights-dtype}, beside {@link ModelSource} in the commands that run a model: the dtype its linear layers'
 * weights are kept in (see {@link dev.tessera.nn.Module#storeLinearWeightsAs}).
 */
final class WeightsStorage {
    @Option(names = "--weights-dtype", defaultValue = "F32", converter = Converter.class, paramLabel = "F32|BF16",
            description = "Keep the linear layers' weights in F32 (default) or BF16: half their memory, and on the CPU a decoding step"
                    + " reads them in place - the same bits as the model with its weights rounded to BF16.")
    DType dtype = DType.F32;

    /** F32 or BF16, in any case. */
    static final class Converter implements ITypeConverter<DType> {
        @Override
        public DType convert(String value) {
            return switch (value.toUpperCase(Locale.ROOT)) {
                case "F32", "FLOAT32" -> DType.F32;
                case "BF16", "BFLOAT16" -> DType.BF16;
                default -> throw new TypeConversionException("expected F32 or BF16, got '" + value + "'");
            };
        }
    }
}
