package dev.tessera.runtime;

/** Root of Tessera's device and file faults (shape and value errors use {@link IllegalArgumentException}). */
public class TesseraException extends RuntimeException {
    public TesseraException(String message) { super(message); }
    public TesseraException(String message, Throwable cause) { super(message, cause); }
}
