package dev.tessera.models.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tessera} command line: train, sample, evaluate and inspect byte-level models. */
@Command(name = "tessera", mixinStandardHelpOptions = true, versionProvider = TesseraCli.Version.class,
        description = "Byte-level language models (H-Net and baselines) on the Tessera runtime.",
        subcommands = {InfoCommand.class, CommandLine.HelpCommand.class})
public final class TesseraCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this). */
    public static int run(String... args) {
        return new CommandLine(new TesseraCli()).execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"tessera " + version()};
        }
    }

    static String version() {
        String v = TesseraCli.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-SNAPSHOT";
    }
}
