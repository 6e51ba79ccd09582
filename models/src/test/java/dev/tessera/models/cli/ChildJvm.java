package dev.tessera.models.cli;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What a test needs to run the command line in a JVM of its own, as {@code ./tessera} runs it. */
final class ChildJvm {
    private ChildJvm() {}

    /** The java launcher of the JVM running the tests. */
    static String java() { return Path.of(System.getProperty("java.home"), "bin", "java").toString(); }

    /** Everything this test JVM has (its module path and class path), as one class path. */
    static String classPath() {
        List<String> cp = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            String v = System.getProperty(property);
            if (v != null && !v.isBlank()) cp.addAll(List.of(v.split(File.pathSeparator)));
        }
        return String.join(File.pathSeparator, cp);
    }
}
