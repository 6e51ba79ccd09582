/** The byte-level language models of the seed papers and the {@code tessera} command line. */
module dev.tessera.models {
    requires transitive dev.tessera.nn;
    requires com.fasterxml.jackson.databind;
    requires info.picocli;
    requires java.desktop;
    exports dev.tessera.models;
    exports dev.tessera.models.hnet;
    exports dev.tessera.models.baseline;
    exports dev.tessera.models.cli;
    opens dev.tessera.models.cli to info.picocli;
}
