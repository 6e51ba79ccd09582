/**
 * The byte-level language models of the seed papers and the {@code tessera} command line.
 * Its API package {@code dev.tessera.models} is exported once it has members.
 */
module dev.tessera.models {
    requires transitive dev.tessera.nn;
}
