package dev.tessera.nn;

import dev.tessera.runtime.TesseraException;

/** A checkpoint file that cannot be read or written: corrupt, truncated, or not matching the model. */
public class CheckpointException extends TesseraException {
    public CheckpointException(String message) { super(message); }

    public CheckpointException(String message, Throwable cause) { super(message, cause); }
}
