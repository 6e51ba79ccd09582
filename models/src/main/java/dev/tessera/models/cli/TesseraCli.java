package dev.tessera.models.cli;

import dev.tessera.runtime.TesseraException;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code tessera} command line: train, sample, evaluate and inspect byte-level models. A fault the user can fix
 * (bad arguments, missing or unreadable files, unknown presets) prints one line {@code tessera <cmd>: <message>}
 * and exits non-zero (2 for bad arguments, 1 otherwise); it never prints a stack trace.
 */
@Command(name = "tessera", mixinStandardHelpOptions = true, versionProvider = TesseraCli.Version.class,
        description = "Byte-level language models (H-Net and baselines) on the Tessera runtime.",
        subcommands = {TrainCommand.class, GenerateCommand.class, EvalCommand.class, ScoreCommand.class, ChunksCommand.class,
                CompareCommand.class, InfoCommand.class, CommandLine.HelpCommand.class})
public final class TesseraCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new TesseraCli());
        cli.setParameterExceptionHandler((e, a) -> {
            System.err.println(prefix(e.getCommandLine()) + e.getMessage() + " (see --help)");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof CliFailure f) {
                System.err.println(prefix(cmd) + f.getMessage());
                return f.exitCode();
            }
            if (e instanceof IllegalArgumentException || e instanceof TesseraException || e instanceof UncheckedIOException
                    || e instanceof IndexOutOfBoundsException) {
                System.err.println(prefix(cmd) + e.getMessage());
                return 1;
            }
            throw e;
        });
        return cli.execute(args);
    }

    private static String prefix(CommandLine cmd) {
        return cmd.getParent() == null ? "tessera: " : "tessera " + cmd.getCommandName() + ": ";
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
