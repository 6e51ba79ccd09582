package dev.tessera.models.cli;

import dev.tessera.models.ByteLanguageModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tessera chunks}: a text with the boundaries a checkpoint's routing draws on it, one line per stage
 * ('|' before each chunk's first byte), and the same as a PNG with coloured separators.
 */
@Command(name = "chunks", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Show the learned chunk boundaries of a text at each stage (console and PNG).")
final class ChunksCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1")
    ModelSource source;

    @picocli.CommandLine.Mixin
    WeightsStorage storage;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", description = "The text (UTF-8).") String text;
        @Option(names = "--file", description = "A file whose bytes to show.") Path file;
    }

    @Option(names = "--out", defaultValue = "chunks.png", description = "The PNG to write (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--columns", defaultValue = "80", description = "Characters per row in the PNG (default: ${DEFAULT-VALUE}).")
    int columns;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() {
        dev.tessera.runtime.Device target = DeviceChoice.resolve(device);
        if (columns < 8) throw new CliFailure("--columns must be at least 8", 2);
        byte[] bytes = input.text != null ? input.text.getBytes(StandardCharsets.UTF_8) : read(input.file);
        if (bytes.length == 0) throw new CliFailure("the text is empty", 2);
        ModelSource.Opened opened = source.open(target, storage.dtype);
        try (ByteLanguageModel m = opened.model()) {
            if (m.stages() == 0) throw new CliFailure(opened.origin() + " holds a model without routing stages; it draws no boundaries");
            BoundaryMarks marks = BoundaryMarks.of(m, bytes);
            for (int st = 0; st < marks.stages(); st++) System.out.println("stage " + st + ": " + marks.render(st));
            System.out.println("bytes per chunk " + BoundaryMarks.format(marks.bytesPerChunk()));
            if (dev.tessera.nn.MetricsLog.chartsAvailable()) {
                BoundaryPng.write(marks, out, columns);
                System.out.println("wrote " + out);
            } else {
                System.out.println("no PNG: this Java runtime lacks java.desktop");
            }
        }
        return 0;
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CliFailure("cannot read " + file + ": " + e.getMessage());
        }
    }
}
