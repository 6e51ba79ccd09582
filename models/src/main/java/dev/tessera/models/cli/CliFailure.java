package dev.tessera.models.cli;

/** A fault the user can fix (a missing file, a bad value): printed as one line, never as a stack trace. */
final class CliFailure extends RuntimeException {
    private final int exitCode;

    CliFailure(String message) { this(message, 1); }

    CliFailure(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() { return exitCode; }
}
