package dev.tessera.e2e;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the project's shared data sets ({@code ../shared/data} beside the repository); null when absent. */
final class SharedData {
    private SharedData() {}

    /** The file {@code name} in the shared data folder, or null. */
    static Path file(String name) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("mvnw"))) dir = dir.getParent();
        if (dir == null || dir.getParent() == null) return null;
        Path f = dir.getParent().resolve("shared").resolve("data").resolve(name);
        return Files.isRegularFile(f) ? f : null;
    }
}
