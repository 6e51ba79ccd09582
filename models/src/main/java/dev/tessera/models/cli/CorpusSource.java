package dev.tessera.models.cli;

import dev.tessera.nn.ByteCorpus;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code --data} option: a file, a directory (every file a document), or {@code jdk-src}, the running JDK's own
 * source code ({@code lib/src.zip}, the {@code java.base/java/} packages, up to 8 MB) — real text that every full
 * JDK carries, so the main job needs no download.
 */
final class CorpusSource {
    static final String JDK_SRC = "jdk-src";
    private static final long JDK_SRC_BYTES = 8L << 20;

    private CorpusSource() {}

    static ByteCorpus open(String data) {
        if (JDK_SRC.equals(data)) {
            Path zip = ByteCorpus.jdkSourceZip();
            if (zip == null) {
                throw new CliFailure("this JDK (" + System.getProperty("java.home") + ") has no lib/src.zip; pass a text file or folder with --data");
            }
            return ByteCorpus.ofSourceZip(zip, "java.base/java/", JDK_SRC_BYTES);
        }
        Path p = Path.of(data);
        if (Files.isDirectory(p)) return ByteCorpus.ofDirectory(p);
        if (Files.isRegularFile(p)) return ByteCorpus.ofFile(p);
        if (Files.exists(p)) {
            throw new CliFailure("--data " + data + " is neither a regular file nor a folder (a device or a pipe has no fixed size to sample from)");
        }
        throw new CliFailure("no such data file or folder: " + data + " (or use --data " + JDK_SRC + ")");
    }
}
